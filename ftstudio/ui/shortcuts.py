"""Keyboard shortcuts, installed once in the page head.

Keys act only while their panel is on screen and the focus is not in a text field, so typing never
triggers them. Label tab: digits pick a label, A or Enter accepts, S skips, F flags, U undoes, Ctrl+Enter
accepts while typing. Review tab: A and B pick the better answer, T a tie, X both bad.
"""

HEAD_JS = """
<script>
document.addEventListener('keydown', (event) => {
  const visible = (id) => { const el = document.querySelector(id); return el && el.offsetParent !== null; };
  const press = (id) => { const b = document.getElementById(id); if (b) { event.preventDefault(); b.click(); } };
  const target = event.target;
  const typing = target && (target.tagName === 'TEXTAREA' || (target.tagName === 'INPUT' && target.type !== 'radio'));
  if (visible('#label-panel')) {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') return press('label-accept');
    if (typing) { if (event.key === 'Escape') target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key >= '1' && event.key <= '9') {
      const choices = document.querySelectorAll('#label-choice input[type=radio]');
      const choice = choices[Number(event.key) - 1];
      if (choice) { event.preventDefault(); choice.click(); }
      return;
    }
    const actions = {a: 'label-accept', Enter: 'label-accept', s: 'label-skip', f: 'label-flag', u: 'label-undo'};
    if (actions[event.key]) press(actions[event.key]);
    return;
  }
  if (visible('#review-panel')) {
    if (typing) { if (event.key === 'Escape') target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const votes = {a: 'vote-a', b: 'vote-b', t: 'vote-tie', x: 'vote-bad'};
    if (votes[event.key]) press(votes[event.key]);
  }
});
</script>
"""
