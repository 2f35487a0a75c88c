"""Users, roles and the server-side checks: the users file, the CLI, and a served app with logins on, called
straight over its HTTP API (gradio_client and the raw queue protocol), as someone skipping the page would."""

from __future__ import annotations

import json
import os
import stat

import httpx
import pytest
from gradio_client import Client

from ftstudio.access import (AccessDenied, AccessPolicy, Caller, OAuthRules, UserBook, UsersFileError,
                             hash_password, require, verify_password)
from ftstudio.cli import main
from tests.conftest import free_port, wait_until

PASSWORDS = {"ada": "admin-pass-1", "ann": "annotator-pass-1", "rev": "reviewer-pass-1"}


def test_passwords_are_salted_and_checked_in_constant_form():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first["salt"] != second["salt"] and first["hash"] != second["hash"]
    assert verify_password("correct horse", first) and not verify_password("wrong horse", first)
    assert not verify_password("correct horse", {"algorithm": "md5", "salt": "00", "hash": "00"})


def test_the_users_file_is_managed_from_the_cli(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.json"
    monkeypatch.setenv("FTSTUDIO_USERS", str(path))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("long-enough-1\n"))
    assert main(["users", "add", "ann", "--role", "annotator", "--password-stdin"]) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = json.loads(path.read_text())["users"][0]
    assert stored["name"] == "ann" and "long-enough-1" not in path.read_text() and stored["hash"]
    assert main(["users", "set-role", "ann", "--role", "reviewer"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "ann", "role": "reviewer"}]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("short\n"))
    assert main(["users", "add", "bob", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert main(["users", "remove", "nobody"]) == 2
    assert "No user named 'nobody'" in capsys.readouterr().err
    assert main(["users", "remove", "ann"]) == 0 and UserBook(path).list() == []


def test_adding_a_user_without_a_terminal_asks_for_password_stdin(tmp_path):
    import subprocess
    import sys

    # A new session has no controlling terminal, so getpass cannot open /dev/tty, as under cron or CI.
    result = subprocess.run([sys.executable, "-m", "ftstudio", "users", "add", "bob", "--file",
                             str(tmp_path / "users.json")], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60, start_new_session=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--password-stdin" in result.stderr and not (tmp_path / "users.json").exists()


def test_roles_allow_only_their_actions():
    annotator, reviewer, admin = Caller("ann", "annotator", True), Caller("rev", "reviewer", True), Caller("a", "admin", True)
    require(annotator, "label")
    require(reviewer, "review")
    require(admin, "train")
    with pytest.raises(AccessDenied, match=r"annotator\) may not start, cancel or export training runs"):
        require(annotator, "train")
    with pytest.raises(AccessDenied, match="may not see which system wrote which answer"):
        require(reviewer, "inspect")
    with pytest.raises(AccessDenied, match="Sign in first"):
        require(Caller(None, "none"), "view")


def test_hugging_face_sign_in_lets_in_only_listed_users_and_the_organisation():
    policy = AccessPolicy("oauth", oauth=OAuthRules(users={"ada": "admin"}, organisation="acme",
                                                   organisation_role="reviewer"))
    assert policy.caller_for_profile({"preferred_username": "ada"}) == Caller("ada", "admin", True)
    member = policy.caller_for_profile({"preferred_username": "bo", "orgs": [{"preferred_username": "acme"}]})
    assert member == Caller("bo", "reviewer", True)
    outsider = policy.caller_for_profile({"preferred_username": "eve", "orgs": [{"preferred_username": "other"}]})
    with pytest.raises(AccessDenied, match="signed in as eve, who is not among this studio's users"):
        require(outsider, "view")
    with pytest.raises(AccessDenied, match="Sign in first"):
        require(policy.caller_for_profile(None), "view")


def test_policy_comes_from_the_environment(tmp_path):
    assert AccessPolicy.from_environment({}).mode == "open"
    with pytest.raises(UsersFileError, match="holds no users"):
        AccessPolicy.from_environment({"FTSTUDIO_USERS": str(tmp_path / "none.json")})
    with pytest.raises(UsersFileError, match="nobody is allowed in"):
        AccessPolicy.from_environment({"OAUTH_CLIENT_ID": "x"})
    rules = AccessPolicy.from_environment({"OAUTH_CLIENT_ID": "x", "FTSTUDIO_OAUTH_USERS": "ada:admin,bo"}).oauth
    assert rules.users == {"ada": "admin", "bo": "annotator"}


@pytest.fixture
def team_app(settings, tiny_model_dir, tmp_path):
    """The app served with logins on: an admin, an annotator and a reviewer."""
    from ftstudio.ui.app import serve

    book = UserBook(tmp_path / "users.json")
    for name, role in (("ada", "admin"), ("ann", "annotator"), ("rev", "reviewer")):
        book.add(name, role, PASSWORDS[name])
    settings.base_model = str(tiny_model_dir)
    port = free_port()
    app, store, manager = serve(settings, host="127.0.0.1", port=port, block=False,
                                policy=AccessPolicy("password", book=book))
    yield f"http://127.0.0.1:{port}/", store, app
    manager.stop_polling()
    app.close()
    store.close()


def client_as(url: str, name: str) -> Client:
    return Client(url, auth=(name, PASSWORDS[name]), verbose=False)


def test_nobody_gets_in_without_a_password(team_app):
    url, _, _ = team_app
    with pytest.raises(Exception):
        Client(url, verbose=False)
    with pytest.raises(Exception):
        Client(url, auth=("ann", "wrong-password"), verbose=False)
    assert httpx.get(url + "gradio_api/info", timeout=10).status_code == 401


def test_the_server_refuses_what_a_role_may_not_do(team_app, settings, tiny_model_dir, tmp_path):
    from tests.evaluation_fixtures import FakeBackend, finished_run

    from ftstudio.evaluation.compare import generate_and_review

    url, store, _ = team_app
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    generate_and_review(store, settings, run, backend=FakeBackend())
    annotator, reviewer = client_as(url, "ann"), client_as(url, "rev")
    # An annotator starting a training run straight over the API.
    with pytest.raises(Exception, match=r"annotator\) may not start, cancel or export training runs"):
        parameters = annotator.view_api(print_info=False, return_format="dict")["named_endpoints"]["/train"]
        annotator.predict(project.name, "v1", "sft", "lora", *([None] * (len(parameters["parameters"]) - 4)),
                          api_name="/train")
    runs_before = len(store.list_runs(project.id))
    # A reviewer reading the open, named view before voting.
    _, left, right, diff = reviewer.predict(project.name, str(run.id), 1, None, None,
                                            api_name="/browse_answers")
    assert left == right == "" and "Finish your blind votes first" in repr(diff)
    # A reviewer importing or deleting.
    with pytest.raises(Exception, match=r"reviewer\) may not import data"):
        reviewer.predict(project.name, "", api_name="/delete_project")
    assert store.find_project(project.name) is not None and len(store.list_runs(project.id)) == runs_before
    # ...while each may do their own work, under their own name whatever the name box says.
    shown = reviewer.predict(project.name, str(run.id), "mallory", api_name="/next_pair")
    assert shown[1]  # the input of a blind pair
    reviewer.predict(project.name, str(run.id), "mallory", None, None, "", api_name="/vote_a")
    raters = {row[0] for row in store.cursor().execute("SELECT rater FROM ratings").fetchall()}
    assert raters == {"rev"}
    audit = [(entry.user_name, entry.action) for entry in store.audit_log()]
    assert ("rev", "rate") in audit


def test_a_hidden_endpoint_called_by_fn_index_is_refused(team_app, settings, tiny_model_dir, tmp_path):
    """Undocumented endpoints are only unlisted: the raw queue protocol reaches them by number."""
    url, store, app = team_app
    project = store.create_project("raw", "generation")
    index = next(i for i, f in app.fns.items()
                 if getattr(f.fn, "ftstudio_action", None) == "settings" and f.api_visibility != "public"
                 and f.fn.__name__ == "on_save_template")
    with httpx.Client(base_url=url, timeout=20) as http:
        assert http.post("login", data={"username": "ann", "password": PASSWORDS["ann"]}).status_code == 200
        session = "raw-session-1"
        joined = http.post("gradio_api/queue/join", json={
            "data": [project.name, "custom", "", "Evil {{ input }}", "{{ output }}"], "fn_index": index,
            "session_hash": session, "event_data": None, "trigger_id": None})
        assert joined.status_code == 200, joined.text
        messages = []
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:]))
                    if messages[-1].get("msg") == "process_completed":
                        break
    done = messages[-1]
    assert done["success"] is False and "may not change project settings" in json.dumps(done)
    assert "template" not in (store.get_project(project.id).settings or {})
