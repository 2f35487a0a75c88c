"""A correction over the HTTP API, as the Review tab sends it: after a vote, the right answer becomes an accepted
example that the Label tab's history shows and the next freeze holds; before any vote there is nothing to correct."""

from gradio_client import Client

from ftstudio.templates import Template
from ftstudio.versions import freeze_version
from tests.evaluation_fixtures import FakeBackend, finished_run

RIGHT = "Pallet 4 waits in depot 1, bay 7."


def test_a_correction_over_the_api_lands_in_the_history_and_the_next_freeze(live_app, settings, tiny_model_dir,
                                                                              tmp_path):
    from ftstudio.evaluation.compare import generate_and_review

    url, store = live_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())
    client = Client(url, verbose=False)
    client.predict(project.name, str(run.id), "ana", api_name="/next_pair")
    refused = client.predict(project.name, str(run.id), "ana", RIGHT, api_name="/correct_answer")
    assert "Vote on a pair first" in refused  # the pair on screen is still blind
    client.predict(project.name, str(run.id), "ana", None, None, "", api_name="/vote_b")
    saved = client.predict(project.name, str(run.id), "ana", RIGHT, api_name="/correct_answer")
    assert "Saved as accepted example" in saved, saved
    history = client.predict(project.name, api_name="/label_history")
    top = history["data"][0]
    assert top[3] == "correction" and top[5] == RIGHT and top[2] == "ana" and top[6].startswith("corrects ")
    version = freeze_version(store, project, Template("chat"))
    assert RIGHT in [row.output for row in store.version_rows(version.id)]
