"""An OpenAI chat-completions request checked and read into what the server needs, and the JSON shapes it answers
with (responses, stream chunks, errors), as OpenAI sends them."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from ftstudio.shipping.engine import Answer, RequestError, Sampling

DEFAULT_MAX_TOKENS = 128  # the review's default (DecodingSettings.max_new_tokens), so answers match the stored ones
MAX_TOKENS = 4096
ROLES = ("system", "user", "assistant")


@dataclass
class ChatRequest:
    model: str
    messages: list[dict]
    max_new_tokens: int
    sampling: Sampling
    stream: bool
    include_usage: bool


def _content(message: dict, index: int) -> str:
    """A message's text: a string, or OpenAI's list of parts of which only text parts are understood."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(part.get("text", "")) for part in content)
    raise RequestError(f"messages[{index}].content must be a string (or a list of text parts): these models read "
                       "text only.")


def _number(body: dict, name: str, low: float, high: float, default, kind=float):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise RequestError(f"{name} must be a number between {low} and {high}.")
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low} and {high}, not {value}.")
    return kind(value)


def parse_chat_request(body, names: list[str]) -> ChatRequest:
    """The request read and checked; RequestError (400) says what is wrong, LookupError (404) names the models."""
    if not isinstance(body, dict):
        raise RequestError("The body must be a JSON object with model and messages.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(f"model is missing: name one of {', '.join(names)}.")
    if model not in names:
        raise LookupError(f"The model {model!r} is not served here: name one of {', '.join(names)}.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages must be a non-empty list of {role, content} objects.")
    checked = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise RequestError(f"messages[{index}] needs a role of {', '.join(ROLES)} and a content.")
        checked.append({"role": message["role"], "content": _content(message, index)})
    if not any(m["role"] == "user" for m in checked):
        raise RequestError("messages holds no user message: there is nothing to answer.")
    if body.get("n", 1) != 1:
        raise RequestError("n must be 1: each request gets one answer.")
    if body.get("stop"):
        raise RequestError("stop is not supported: answers end at the model's own end-of-turn token or max_tokens.")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    max_new_tokens = _number({"max_tokens": limit}, "max_tokens", 1, MAX_TOKENS, DEFAULT_MAX_TOKENS, int)
    temperature = _number(body, "temperature", 0, 2, 0.0)
    top_p = _number(body, "top_p", 0, 1, 1.0)
    if temperature > 0 and top_p == 0:
        raise RequestError("top_p must be above 0 when sampling.")
    seed = _number(body, "seed", -2**63, 2**63 - 1, 0, int)
    options = body.get("stream_options") or {}
    sampling = Sampling(temperature, top_p, seed) if temperature > 0 else Sampling()
    return ChatRequest(model, checked, max_new_tokens, sampling, bool(body.get("stream")),
                       bool(isinstance(options, dict) and options.get("include_usage")))


def error_body(message: str, kind: str = "invalid_request_error", code: str | None = None) -> dict:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def models_body(names: list[str], created: int) -> dict:
    return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "ftstudio"}
                                       for name in names]}


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def _usage(answer: Answer) -> dict:
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}


def completion_body(completion_id: str, model: str, answer: Answer) -> dict:
    return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": answer.finish_reason, "logprobs": None}],
            "usage": _usage(answer)}


def chunk_line(completion_id: str, model: str, delta: dict, finish_reason: str | None = None,
               usage: Answer | None = None) -> str:
    """One server-sent event of a streamed answer."""
    chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
             "choices": [] if usage is not None else [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                                                       "logprobs": None}]}
    if usage is not None:
        chunk["usage"] = _usage(usage)
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


DONE_LINE = "data: [DONE]\n\n"
