"""The OpenAI-compatible client against a loopback server that speaks the chat-completions protocol."""

from __future__ import annotations

import pytest

from ftstudio import labeling
from ftstudio.remote import RemoteModel, RemoteModelError


def test_a_teacher_drafts_with_accepted_examples_after_a_rate_limit(chat_server, monkeypatch):
    monkeypatch.setenv("FTSTUDIO_JUDGE_API_KEY", "sk-secret-123")
    server = chat_server([(429, "slow down"), (200, "  Write about forecasts.  ")])
    teacher = RemoteModel(server.url, "teacher-1", timeout=10, max_retries=2)
    examples = [("A post about hiring", "We hired our first data engineer..."), ("A post on pricing", "Price...")]
    draft = labeling.draft_input(teacher.generate, "Forecasts beat gut feeling.", examples)
    assert draft == "Write about forecasts."
    assert len(server.requests) == 2  # the 429 was retried
    sent = server.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "teacher-1"
    prompt = sent["body"]["messages"][0]["content"]
    assert "A post about hiring" in prompt and "Forecasts beat gut feeling." in prompt
    assert sent["authorization"] == "Bearer sk-secret-123"


def test_failures_are_said_without_the_key(chat_server, monkeypatch):
    monkeypatch.setenv("FTSTUDIO_JUDGE_API_KEY", "sk-secret-123")
    server = chat_server([(401, "bad key sk-secret-123")])
    with pytest.raises(RemoteModelError) as error:
        RemoteModel(server.url, "m", max_retries=0).chat([{"role": "user", "content": "hi"}])
    assert "HTTP 401" in str(error.value) and "sk-secret" not in str(error.value)
    with pytest.raises(RemoteModelError, match="Could not reach"):
        RemoteModel("http://127.0.0.1:9/v1", "m", max_retries=0, timeout=2).chat([{"role": "user", "content": "x"}])
    with pytest.raises(RemoteModelError, match="http:// or https://"):
        RemoteModel("localhost:8000", "m")


def test_many_requests_keep_failures_in_place(chat_server):
    server = chat_server([(200, "one"), (500, "boom"), (200, "three")])
    model = RemoteModel(server.url, "m", max_retries=0, concurrency=1)
    answers = model.chat_many([[{"role": "user", "content": str(n)}] for n in range(3)])
    assert answers[0] == "one" and isinstance(answers[1], RemoteModelError) and answers[2] == "three"
