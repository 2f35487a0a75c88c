"""What widgets show: escaped text that reads as written, and file names every OS accepts."""

from ftstudio.ui.format import escape, message, safe_filename


def test_messages_escape_html_but_keep_apostrophes_readable():
    shown = message("A project named “Maya's posts” already exists <b>", "error")
    assert "Maya's posts" in shown and "&#x27;" not in shown and "<b>" not in shown and "&lt;b&gt;" in shown
    assert escape("**bold** [link](x)") == "\\*\\*bold\\*\\* \\[link\\]\\(x\\)"


def test_export_names_are_safe_on_windows():
    assert safe_filename("Sample: LinkedIn posts-v1-jsonl") == "Sample_LinkedIn_posts-v1-jsonl"
    assert ":" not in safe_filename('a:b*c?"d<e>|f\\g/h') and safe_filename(":::") == "export"
