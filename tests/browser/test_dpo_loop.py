"""The whole review loop in real Chromium, as a new user walks it (issue 28): load the samples, label, freeze,
train a short LoRA run; review it blind on the test split and judge it; vote, with two reviewers, on answers to
train-split prompts; freeze those votes as preference pairs; train DPO from the run; review the loop (the DPO
run, its start run, the base model) on the test split, with the prompts DPO learned from left out; read Results.

After every step no "Error" shows anywhere on the page, and every tab answers within a deadline set for a busy
machine. Screenshots of each step go to the screenshots folder as dpo-loop-*.png.

The walk is one app and one page shared by six tests, its stages in order (each well under a minute); a stage run
alone walks the stages before it first. It also holds what tests/browser/test_preferences_flow.py and
test_team_loop.py checked of the same path with a trained run of their own (the DPO run's reward curves and start
run, the run's loss curve and author, the judge's endpoint form and summary): one trained run serves them all."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pytest

from ftstudio.access import AccessPolicy, UserBook
from ftstudio.bench.chat_server import Reply
from tests.browser.conftest import SHOTS
from tests.conftest import free_port

pytestmark = pytest.mark.browser

PASSWORDS = {"ada": "admin-pass-1", "rita": "reviewer-pass-1"}
TAB_DEADLINE_S = 30  # a tab's first content on a busy 2-core machine
# Gradio's own error marks: the "Error" badge of a failed event's status tracker, and an error toast.
GRADIO_ERRORS = "[data-testid=status-tracker] .error, .toast-body.error"
# The app's own error lines start with this sign (ftstudio.ui.format.message).
APP_ERROR_SIGN = "\u26a0"


@pytest.fixture(scope="module")
def walk(browser, tiny_model_dir, tmp_path_factory):
    """One app, one studio and the admin's page for the whole walk: each test below is a stage of it, in order."""
    from ftstudio.config import Settings
    from ftstudio.ui.app import serve

    home = tmp_path_factory.mktemp("dpo-loop")
    book = UserBook(home / "users.json")
    book.add("ada", "admin", PASSWORDS["ada"])
    book.add("rita", "reviewer", PASSWORDS["rita"])
    settings = Settings(home=home / "studio", base_model=str(tiny_model_dir))
    settings.ensure_dirs()
    port = free_port()
    app, store, manager = serve(settings, host="127.0.0.1", port=port, block=False,
                                policy=AccessPolicy("password", book=book))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    walk = Walk(page, store, f"http://127.0.0.1:{port}/", browser)
    yield walk
    print(f"\nwalked in {time.monotonic() - walk.started:.0f} s; tabs answered in {walk.timings}")
    context.close()
    manager.stop_polling()
    app.close()
    store.close()


def sign_in(page, url: str, name: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Login").click()
    page.locator("#signed-in").get_by_text(f"Signed in as {name}").wait_for()


# Every event has finished: each status tracker is hidden again, or shows its error.
SETTLED = ("[...document.querySelectorAll('[data-testid=status-tracker]')]"
           ".every(tracker => tracker.classList.contains('hide') || tracker.querySelector('.error'))")


def no_errors(page, step: str) -> None:
    """Once the page has settled, nothing on it says Error: no Gradio error badge or toast, and no error line of
    the app's own."""
    page.wait_for_function(SETTLED, timeout=60_000)
    badges = [text.strip() for text in page.locator(GRADIO_ERRORS).all_inner_texts()]
    assert not badges, f"after {step}: Gradio shows {badges}"
    body = page.locator("body").inner_text()
    lines = [line for line in body.splitlines() if APP_ERROR_SIGN in line]
    assert not lines, f"after {step}: the page says {lines}"


def shot(page, step: str) -> None:
    page.screenshot(path=str(SHOTS / f"dpo-loop-{step}.png"), full_page=True)


def open_tab(page, name: str, ready: str, timings: dict) -> None:
    """Click a tab and wait (within the deadline) for the JS condition `ready`: its first content is in."""
    started = time.monotonic()
    page.get_by_role("tab", name=name).click()
    page.wait_for_function(ready, timeout=TAB_DEADLINE_S * 1000)
    timings.setdefault(name, []).append(round(time.monotonic() - started, 1))


def counter_text(page) -> str:
    return page.locator("#review-counter").inner_text()


def vote(page, keys: str, most: int) -> int:
    """Vote on up to `most` blind pairs with the keyboard (cycling through `keys`); returns how many were voted.
    Each press waits for the next pair (or the end of the queue), so no key lands on a pair not yet shown."""
    done = 0
    while done < most and "Nothing left for you" not in counter_text(page):
        before = re.search(r"Pair (\d+) for you", counter_text(page))
        assert before, f"no pair on screen: {counter_text(page)!r}"
        page.locator("#review-counter").click()  # out of any text field, so the keys vote
        page.keyboard.press(keys[done % len(keys)])
        page.wait_for_function(
            f"""(() => {{ const text = document.querySelector('#review-counter')?.innerText || '';
                       return text.includes('Nothing left for you') || (text.includes('for you') &&
                              !text.includes('Pair {before.group(1)} for you')); }})()""", timeout=30_000)
        done += 1
    return done


def busy(selector: str) -> str:
    """JS: the element's status tracker shows an event pending or running."""
    return f"document.querySelector('{selector} [data-testid=status-tracker]:not(.hide)') !== null"


def answered(page, selector: str, press) -> None:
    """Do `press` and wait until the event it started has answered into `selector`: first its progress shows or
    its text changes (a short wait: a fast event may do neither visibly), then it is idle again."""
    before = page.locator(selector).inner_text()
    press()
    try:
        page.wait_for_function(f"before => {busy(selector)} || document.querySelector('{selector}').innerText "
                               "!== before", arg=before, timeout=5_000)
    except Exception:
        pass
    page.wait_for_function(f"!({busy(selector)})", timeout=180_000)


def start_reviewing(page) -> None:
    answered(page, "#review-counter", page.locator("#review-start").click)
    page.wait_for_function("/Pair \\d+ for you|Nothing left for you/.test("
                           "document.querySelector('#review-counter')?.innerText || '')")


def generate(page, source: str) -> str:
    """Pick the inputs, generate the answers, and return the notice (which says what the review leaves out)."""
    page.locator("#review-source").get_by_text(source, exact=False).first.click()
    notice = page.locator("#generate-notice")
    answered(page, "#generate-notice", page.locator("#generate-answers").click)
    if "ready below" not in notice.inner_text():
        shot(page, "failed-generation")
        pytest.fail(f"no blind pairs after generating on the {source}: the notice says {notice.inner_text()!r}")
    return notice.inner_text()


@dataclass
class Walk:
    """One walk through the studio: the admin's page, the store behind the app, what each stage left for the next
    (the runs, the prompts, the pairs), and how long each tab took."""

    page: object
    store: object
    url: str
    browser: object
    project: object = None
    run: object = None
    test_prompts: set = field(default_factory=set)
    dpo: object = None
    pairs: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    done: list = field(default_factory=list)
    stopped: str | None = None
    started: float = field(default_factory=time.monotonic)


def reach(walk: Walk, stage: str, chat_server) -> None:
    """Walk every stage up to and including `stage` that has not been walked yet: in the file's order each test
    walks its own stage; run alone, a test walks the stages before it first. A stage that failed stops the walk."""
    stages = {"first run": lambda: first_run(walk),
              "grade and judge": lambda: grade_and_judge(walk, chat_server),
              "sampled review": lambda: sampled_review(walk),
              "preference votes": lambda: preference_votes(walk, walk.browser),
              "dpo": lambda: dpo_from(walk, walk.run),
              "loop review": lambda: loop_review(walk, walk.run, walk.dpo, walk.pairs, walk.test_prompts)}
    for name, walk_it in stages.items():
        if name in walk.done:
            continue
        if walk.stopped:
            pytest.fail(f"the walk stopped at the stage {walk.stopped!r}, before {stage!r}")
        try:
            if not walk.done:
                sign_in(walk.page, walk.url, "ada")
            walk_it()
        except BaseException:
            walk.stopped = name
            shot(walk.page, "failed")  # the page as it was when the walk stopped
            raise
        walk.done.append(name)
        if name == stage:
            return


def test_1_samples_labels_a_frozen_version_and_a_first_run(walk, chat_server):
    reach(walk, "first run", chat_server)


def test_2_the_first_run_is_reviewed_judged_and_read_in_results(walk, chat_server):
    reach(walk, "grade and judge", chat_server)


def test_3_a_sampled_review_of_the_test_split_gets_a_blind_vote(walk, chat_server):
    reach(walk, "sampled review", chat_server)


def test_4_two_reviewers_vote_on_answers_for_preference_data(walk, chat_server):
    reach(walk, "preference votes", chat_server)


def test_5_the_votes_become_pairs_and_dpo_trains_from_the_first_run(walk, chat_server):
    reach(walk, "dpo", chat_server)


def test_6_the_loop_is_reviewed_without_the_prompts_dpo_learned_from(walk, chat_server):
    reach(walk, "loop review", chat_server)


def first_run(walk: Walk):
    """Samples, ten labels, v1 frozen, a short LoRA run: the run and v1's test prompts."""
    page, store, timings = walk.page, walk.store, walk.timings
    assert not page.locator("#annotator").is_visible()  # no name box: the login is the name
    # Data: the bundled samples, as README says; the posts project is picked.
    page.locator("#sample-button").click()
    page.locator("#import-report").get_by_text("Sample: LinkedIn posts").wait_for(timeout=120_000)
    project = walk.project = store.find_project("Sample: LinkedIn posts")
    page.wait_for_function("document.querySelector('#project-picker input')?.value.includes('LinkedIn posts')")
    no_errors(page, "loading the samples")
    shot(page, "1-samples")

    # Label: ten post ideas, accepted with the keyboard.
    open_tab(page, "Label", "document.querySelector('#label-output textarea')?.value.length > 0", timings)
    for done in range(1, 11):
        page.wait_for_function("document.querySelector('#label-output textarea')?.value.length > 0")
        page.locator("#label-input textarea").fill(f"A post idea, number {done}")
        page.keyboard.press("Escape")  # out of the text field: the A key accepts
        page.keyboard.press("a")
        page.locator("#label-counter").get_by_text(f"{done} done by you").wait_for()
    no_errors(page, "labeling")
    shot(page, "2-labeled")

    # Datasets: v1 with a test split of three prompts.
    open_tab(page, "Datasets", "document.querySelector('#versions-table') !== null", timings)
    split = page.get_by_label("Train, validation, test").first
    split.fill("0.5,0.2,0.3")
    split.press("Tab")
    page.locator("#freeze-button").click()
    page.locator("#freeze-notice").get_by_text("Froze version v1").wait_for()
    version = store.list_versions(project.id)[0]
    test_prompts = {row.input for row in store.version_rows(version.id, "test")}
    assert len(test_prompts) >= 2
    no_errors(page, "freezing")
    shot(page, "3-frozen")

    # Train: a short LoRA run, fast enough (lr 0.05) for the tiny model to answer differently.
    open_tab(page, "Train", "document.querySelector('#train-version input')?.value === 'v1'", timings)
    page.get_by_label("max steps").fill("8")
    page.get_by_label("max length").fill("256")
    page.get_by_label("learning rate").fill("0.05")
    page.locator("#train-start").click()
    page.locator("#train-notice").get_by_text("started").wait_for()
    page.locator("#run-progress").get_by_text("finished").wait_for(timeout=240_000)
    page.locator("#run-curve .js-plotly-plot").wait_for()  # the loss curve filled in as it went
    run = store.list_runs(project.id)[0]
    assert run.status == "finished" and run.created_by == "ada"
    no_errors(page, "training")
    shot(page, "4-trained")
    walk.run, walk.test_prompts = run, test_prompts


def grade_and_judge(walk: Walk, chat_server) -> None:
    """The ordinary review of run 1 on the test split, the judge, and Results."""
    page, timings = walk.page, walk.timings
    # Review, as usual: run 1 against the base model on the test split. Greedy, the tiny model answers only white
    # space (run 1 spaces, the base model newlines): pairs of identical answers, kept from reviewers as ties.
    open_tab(page, "Review", "document.querySelector('#review-run input')?.value.length > 0", timings)
    page.wait_for_function("document.querySelectorAll('#review-systems input:checked').length === 2")
    page.get_by_text("Decoding settings").click()
    page.get_by_label("max new tokens").fill("16")
    page.keyboard.press("Tab")
    test_notice = generate(page, "test split")
    start_reviewing(page)
    shot(page, "5-first-review")
    if "0 blind pairs" in test_notice:
        assert "not put to reviewers" in test_notice and "not put to reviewers" in counter_text(page), test_notice
    vote(page, "a", most=1)
    no_errors(page, "the first review")

    # Judge: a loopback OpenAI-compatible server whose verdict follows the answers, not their order.
    def consistent(body, before):
        text = body["messages"][-1]["content"]
        first, second = text.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)
        return Reply("This one reads better. " + ("[[A]]" if first > second else "[[B]]"))

    server = chat_server(consistent)
    open_tab(page, "Judge", "document.querySelector('#judge-run input')?.value.length > 0", timings)
    page.locator("#judge-kind").get_by_text("remote endpoint").click()
    page.locator("#judge-local-model").wait_for(state="hidden")
    page.locator("#judge-url input, #judge-url textarea").first.fill(server.url)
    page.locator("#judge-model input, #judge-model textarea").first.fill("judge-1")
    page.locator("#judge-start").click()
    page.locator("#judge-notice").get_by_text("judgments by").wait_for(timeout=60_000)
    no_errors(page, "judging")
    shot(page, "6-judged")

    # Results of the first review (identical answers, a judge, a vote or none): no panel failing.
    open_tab(page, "Results", "document.querySelector('#results-verdict')?.innerText.trim().length > 0", timings)
    no_errors(page, "the first Results")
    shot(page, "7-results")


def sampled_review(walk: Walk) -> None:
    """A sampled test-split review with one vote."""
    page, timings = walk.page, walk.timings
    # Review again on the test split, sampled this time so the tiny model's answers differ; one blind vote.
    open_tab(page, "Review", "document.querySelector('#review-run input')?.value.length > 0", timings)
    page.get_by_label("temperature").fill("1")
    page.keyboard.press("Tab")
    generate(page, "test split")
    start_reviewing(page)
    assert vote(page, "a", most=1) == 1, counter_text(page)
    page.locator("#review-reveal").get_by_text("A was").wait_for()
    no_errors(page, "the sampled review")


def preference_votes(walk: Walk, browser) -> None:
    """Train-split answers (sampled, as the review before), voted on by two reviewers."""
    page, timings = walk.page, walk.timings
    # Review on the train split: answers to vote on for preference data, by two reviewers.
    train_notice = generate(page, "train split")
    assert "preference data" in train_notice, train_notice
    start_reviewing(page)
    ada_votes = vote(page, "ab", most=2)
    rita = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = rita.new_page()
    other.set_default_timeout(30_000)
    try:
        sign_in(other, walk.url, "rita")
        open_tab(other, "Review", "document.querySelector('#review-run input')?.value.length > 0", timings)
        # A reviewer votes; generating answers is an admin's, so its controls are not on her page.
        other.locator("#generate-answers").wait_for(state="hidden", timeout=15_000)
        assert not other.locator("#review-systems").is_visible() and not other.locator("#review-source").is_visible()
        start_reviewing(other)
        assert "preference data" in counter_text(other)  # she is told what these votes are for
        rita_votes = vote(other, "a", most=20)
        assert "Nothing left for you" in counter_text(other)
        no_errors(other, "the second reviewer's votes")
        shot(other, "8-second-reviewer")
    finally:
        rita.close()
    ada_votes += vote(page, "b", most=20)  # the pair she held while the other reviewer voted
    assert "Nothing left for you" in counter_text(page)
    assert ada_votes >= 2 and rita_votes >= 1, (ada_votes, rita_votes)
    no_errors(page, "the train-split votes")
    shot(page, "9-train-votes")
    open_tab(page, "Results", "document.querySelector('#results-verdict')?.innerText.trim().length > 0", timings)
    no_errors(page, "Results after the train-split votes")
    shot(page, "9b-results-after-train-votes")
    audit = {(e.user_name, e.action) for e in walk.store.audit_log(limit=500)}
    assert {("ada", "create_run"), ("ada", "rate")} <= audit


def dpo_from(walk: Walk, run):
    """The votes frozen as preference pairs, and a DPO run from run 1: the run and the pairs."""
    page, store, timings = walk.page, walk.store, walk.timings
    project = walk.project
    # Datasets: the votes become a preference version; no pair has the same chosen and rejected text.
    open_tab(page, "Datasets", "document.querySelector('#versions-table')?.innerText.includes('v1')", timings)
    page.locator("#preferences-panel").get_by_text("Preference pairs for DPO").click()
    page.locator("#preferences-count").click()
    page.locator("#preferences-notice").get_by_text("from people's votes").wait_for()
    page.locator("#preferences-freeze").click()
    page.locator("#preferences-notice").get_by_text("Froze preference version v2").wait_for()
    preference = store.list_versions(project.id)[0]
    pairs = store.preference_rows(preference.id)
    assert pairs and all(row.chosen != row.rejected for row in pairs)
    no_errors(page, "freezing the preference pairs")
    shot(page, "10-preferences")

    # Train: DPO from run 1, a few steps.
    open_tab(page, "Train", "document.querySelector('#train-version input')?.value.length > 0", timings)
    page.locator("#train-version input").click()
    page.get_by_role("option", name="v2 · preference pairs").click()
    page.locator("#train-objective-note").get_by_text("holds preference pairs").wait_for()
    page.wait_for_function("document.querySelector('#train-objective input[value=dpo]')?.checked")
    page.locator("#train-from-run input").click()
    page.get_by_role("option", name=f"run {run.id} (lora on v1)").click()
    page.get_by_label("max steps").fill("4")
    page.get_by_label("max prompt length").fill("64")
    page.get_by_label("max completion length").fill("32")
    page.locator("#train-start").click()
    page.locator("#train-notice").get_by_text("started").wait_for()
    # The new run's own line: until the run picker follows it, the progress line may still be run 1's "finished".
    page.locator("#run-progress").get_by_text(f"Run {run.id + 1} · finished").wait_for(timeout=240_000)
    page.locator("#run-rewards .js-plotly-plot").wait_for()
    page.screenshot(path=str(SHOTS / "train-dpo.png"), full_page=True)
    dpo = store.list_runs(project.id)[0]
    assert dpo.method == "dpo" and dpo.status == "finished" and dpo.config["from_run"] == run.id
    no_errors(page, "training DPO")
    shot(page, "11-dpo-trained")
    walk.dpo, walk.pairs = dpo, pairs


def loop_review(walk: Walk, run, dpo, pairs, test_prompts) -> None:
    """The loop's review on the test split (what DPO learned from left out), votes, and the loop's Results."""
    page, store, timings = walk.page, walk.store, walk.timings
    project = walk.project
    # Review: the DPO run picked, the loop is ticked; on the test split, the prompts DPO learned from are left out.
    open_tab(page, "Review", "document.querySelector('#review-run input')?.value.length > 0", timings)
    page.locator("#review-run input").click()
    page.get_by_role("option", name=f"run {dpo.id} (dpo on v2)").click()
    page.wait_for_function("document.querySelectorAll('#review-systems input:checked').length === 3")
    loop_notice = generate(page, "test split")
    learned = {row.input for row in pairs} & test_prompts  # the test prompt voted on above became a pair
    assert learned and f"{len(learned)} prompt" in loop_notice and "left out" in loop_notice, loop_notice
    loop_review = store.list_reviews(project.id, dpo.id)[0]
    assert loop_review.systems == [dpo.system, run.system, "base"]
    page.screenshot(path=str(SHOTS / "review-dpo.png"), full_page=True)
    reviewed = {store.get_generation(pair.generation_a).input for pair in store.review_pairs(loop_review.id)}
    assert not reviewed & learned, "the loop review grades the DPO run on prompts it learned from"
    start_reviewing(page)
    shot(page, "12-loop-pair")
    vote(page, "ab", most=20)
    no_errors(page, "the loop votes")

    # Results: the loop, people's verdict for each pair of systems.
    open_tab(page, "Results", "document.querySelector('#results-verdict')?.innerText.trim().length > 0", timings)
    page.locator("#results-run input").click()
    page.get_by_role("option", name=f"run {dpo.id} (dpo on v2)").click()
    page.locator("#results-verdict").get_by_text("People").wait_for(timeout=60_000)
    no_errors(page, "the loop's Results")
    shot(page, "13-loop-results")
