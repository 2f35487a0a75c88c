"""Models behind an OpenAI-compatible chat-completions endpoint: hosted APIs, or vLLM, TGI, llama.cpp's server and
Ollama on your own machines. Drafting uses one as a teacher; the judge uses the same client.

The official `openai` client does the protocol, time-outs and retries (with back-off on HTTP 429 and 5xx,
honouring Retry-After). The API key comes from FTSTUDIO_JUDGE_API_KEY, else OPENAI_API_KEY, else the studio's secret store; it is sent to
the endpoint and nowhere else: never returned, logged or written into an error message.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ftstudio.secret_store import JUDGE_KEY, load_secret

KEY_VARIABLES = ("FTSTUDIO_JUDGE_API_KEY", "OPENAI_API_KEY")


class RemoteModelError(RuntimeError):
    """A request the endpoint refused or never answered, said without the API key."""


@dataclass
class Completion:
    """An answer with what it cost: the endpoint's reported usage (None where it reports none) and the latency."""

    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float


def api_key(secrets_home: Path | None = None) -> str | None:
    """The key from the environment, else the one saved in the studio's secret store."""
    from_environment = next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)
    return from_environment or load_secret(secrets_home, JUDGE_KEY)


def key_source(secrets_home: Path | None = None) -> str | None:
    """Where the key comes from, in words (never the key itself)."""
    for name in KEY_VARIABLES:
        if os.environ.get(name):
            return f"the {name} environment variable"
    return "the studio's secret store" if load_secret(secrets_home, JUDGE_KEY) else None


@dataclass
class RemoteModel:
    base_url: str = field(metadata={"help": "The endpoint, e.g. https://api.openai.com/v1 or http://localhost:8000/v1."})
    model: str = field(metadata={"help": "The model name the endpoint knows, e.g. gpt-4o-mini or llama3.1."})
    timeout: float = field(default=60.0, metadata={"help": "Seconds before a request is given up (then retried)."})
    max_retries: int = field(default=4, metadata={"help": "Retries of a request that timed out or got 429 or 5xx."})
    concurrency: int = field(default=4, metadata={"help": "Requests in flight at once."})
    max_tokens: int = field(default=512, metadata={"help": "Longest answer, in tokens."})
    secrets_home: Path | None = field(default=None, repr=False, metadata={"help": "The studio folder whose secret "
                                                                          "store may hold the API key."})

    def __post_init__(self):
        self.base_url = (self.base_url or "").strip().rstrip("/")
        self.model = (self.model or "").strip()
        if not self.base_url.startswith(("http://", "https://")):
            raise RemoteModelError("The endpoint's base URL starts with http:// or https://, e.g. "
                                   "http://localhost:8000/v1.")
        if not self.model:
            raise RemoteModelError("Name the model the endpoint should use, e.g. gpt-4o-mini.")
        self._client = None
        self._http_calls = itertools.count()  # next() is atomic in CPython: safe from the request threads
        self.http_requests = 0

    @property
    def name(self) -> str:
        """How judgments name this model: model and endpoint, never the key."""
        return f"{self.model} @ {self.base_url}"

    def _count_request(self, request) -> None:
        self.http_requests = next(self._http_calls) + 1

    def client(self):
        if self._client is None:
            from openai import DefaultHttpxClient, OpenAI

            # Every HTTP call is counted, retries included: the judge reports how many requests a run cost.
            http_client = DefaultHttpxClient(event_hooks={"request": [self._count_request]})
            # Local servers (llama.cpp, Ollama, vLLM without --api-key) accept any key; the client needs one.
            self._client = OpenAI(base_url=self.base_url, api_key=api_key(self.secrets_home) or "no-key",
                                  timeout=self.timeout, max_retries=self.max_retries, http_client=http_client)
        return self._client

    def chat(self, messages: list[dict], temperature: float = 0.0, max_tokens: int | None = None) -> str:
        """One chat completion's text."""
        return self.complete(messages, temperature, max_tokens).text

    def complete(self, messages: list[dict], temperature: float = 0.0, max_tokens: int | None = None) -> "Completion":
        """One chat completion: its text, the tokens the endpoint reports using, and how long it took."""
        import time

        import openai

        began = time.perf_counter()
        try:
            response = self.client().chat.completions.create(model=self.model, messages=messages,
                                                             temperature=temperature,
                                                             max_tokens=max_tokens or self.max_tokens)
        except openai.APIStatusError as error:
            raise RemoteModelError(f"{self.base_url} answered HTTP {error.status_code} for model {self.model!r}"
                                   f"{': check the API key' if error.status_code in (401, 403) else ''}.") from None
        except openai.APITimeoutError:
            raise RemoteModelError(f"{self.base_url} did not answer within {self.timeout:.0f} s "
                                   f"({self.max_retries} retries).") from None
        except openai.APIConnectionError:
            raise RemoteModelError(f"Could not reach {self.base_url}: is the server running, and the URL right?") from None
        choice = response.choices[0] if response.choices else None
        usage = getattr(response, "usage", None)
        return Completion(((choice.message.content if choice and choice.message else "") or "").strip(),
                          getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None),
                          round((time.perf_counter() - began) * 1000, 1))

    def complete_many(self, conversations: list[list[dict]], temperature: float = 0.0, max_tokens: int | None = None
                      ) -> list["Completion | RemoteModelError"]:
        """Many completions with at most `concurrency` in flight; a failed one comes back as its error, in place."""
        def one(messages):
            try:
                return self.complete(messages, temperature, max_tokens)
            except RemoteModelError as error:
                return error

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(one, conversations))

    def chat_many(self, conversations: list[list[dict]], temperature: float = 0.0) -> list[str | RemoteModelError]:
        """Many completions with at most `concurrency` in flight; a failed one comes back as its error, in place."""
        def one(messages):
            try:
                return self.chat(messages, temperature)
            except RemoteModelError as error:
                return error

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(one, conversations))

    def generate(self, prompts: list[str]) -> list[str]:
        """The drafting protocol: prompts in, answers out (the first failure is raised)."""
        answers = self.chat_many([[{"role": "user", "content": prompt}] for prompt in prompts])
        for answer in answers:
            if isinstance(answer, RemoteModelError):
                raise answer
        return answers
