"""The Review tab over the HTTP API, as a browser drives it: what a reviewer sees between pairs."""

from gradio_client import Client

from tests.evaluation_fixtures import FakeBackend, finished_run


def test_the_tally_by_name_shows_only_once_the_queue_is_done(live_app, settings, tiny_model_dir, tmp_path):
    from ftstudio.evaluation.compare import generate_and_review

    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    pairs = len(store.review_pairs(review.id))
    client = Client(url, verbose=False)
    shown = client.predict(project.name, str(run.id), "ana", api_name="/next_pair")
    assert "So far" not in repr(shown)
    for vote in range(pairs):
        answered = client.predict(project.name, str(run.id), "ana", None, None, "", api_name="/vote_a")
        if vote < pairs - 1:
            assert "So far" not in repr(answered) and "wins" not in repr(answered), vote
    assert "So far" in repr(answered) and "against the base model" in repr(answered)


def test_results_of_a_project_without_a_run_say_what_to_do(live_app):
    url, store = live_app
    project = store.create_project("Fresh", "generation")
    client = Client(url, verbose=False)
    shown = client.predict(project.name, None, api_name="/results")
    assert "no finished run yet" in repr(shown) and "Train tab" in repr(shown)
    assert "no review yet" not in repr(shown)
