"""Which model drafts inputs and outputs on the Label tab, and how a draft is cleaned before anyone sees it.

A project's drafting model is one of: the studio's base model, a finished run of the project (its adapter on its
base), an OpenAI-compatible teacher endpoint, or a small instruct model from the Hugging Face Hub (offered only
when the studio is online). The embedded 135M base model writes weak drafts; the Label tab says so while it is
the one in use.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftstudio.config import EMBEDDED_MODEL

DRAFTER_KINDS = {"base": "the studio's base model", "run": "a finished run of this project",
                 "endpoint": "an OpenAI-compatible endpoint", "hub": "an instruct model from the Hub"}
# Longest drafts kept, in characters: an input is a request of a sentence or two, an output a post or an answer.
MAX_INPUT_CHARS = 600
MAX_OUTPUT_CHARS = 3000
WEAK_DRAFTER_NOTE = (
    "Drafts come from the embedded 135M base model: it is small, so expect generic, often useless text "
    "(\u201cHere's a response\u2026\u201d). For better drafts an admin can pick another under \u201cDrafting "
    "model\u201d below: a finished run of this project, a teacher endpoint, or a small instruct model from the Hub.")


@dataclass(frozen=True)
class HubDrafter:
    """A small instruct model worth drafting with, as offered when the studio is online."""

    hub_id: str
    parameters: str
    download: str
    licence: str

    @property
    def label(self) -> str:
        return f"{self.hub_id} · {self.parameters} parameters · {self.download} download · {self.licence}"


# A fixed list, chosen by hand: small enough for a CPU, instruction-tuned, and under open licences.
HUB_DRAFTERS = (
    HubDrafter("HuggingFaceTB/SmolLM2-360M-Instruct", "360M", "0.7 GB", "Apache-2.0"),
    HubDrafter("Qwen/Qwen2.5-0.5B-Instruct", "0.5B", "1 GB", "Apache-2.0"),
    HubDrafter("Qwen/Qwen2.5-1.5B-Instruct", "1.5B", "3.1 GB", "Apache-2.0"),
    HubDrafter("HuggingFaceTB/SmolLM2-1.7B-Instruct", "1.7B", "3.4 GB", "Apache-2.0"),
)


@dataclass
class DraftingChoice:
    """A project's drafting model, as kept in its settings under "drafting"."""

    kind: str = "base"
    run_id: int | None = None
    base_url: str = ""   # the endpoint's, for kind "endpoint"
    model: str = ""      # the endpoint's model name, or the Hub id for kind "hub"

    @classmethod
    def from_settings(cls, drafting: dict | None) -> "DraftingChoice":
        drafting = drafting or {}
        kind = drafting.get("kind") or ("endpoint" if drafting.get("base_url") else "base")
        if kind not in DRAFTER_KINDS:
            kind = "base"
        run_id = drafting.get("run_id")
        return cls(kind, int(run_id) if run_id is not None else None, drafting.get("base_url", ""),
                   drafting.get("model", ""))

    def to_settings(self) -> dict:
        if self.kind == "base":
            return {}
        values = {"kind": self.kind, "run_id": self.run_id, "base_url": self.base_url, "model": self.model}
        return {key: value for key, value in values.items() if value not in (None, "")}


def is_embedded_base(spec: str) -> bool:
    """Whether a base-model setting names the embedded 135M model."""
    return (spec or "").strip() in (EMBEDDED_MODEL, "embedded", "")


def hub_offline() -> bool:
    """True unless the studio was told it may use the Hub: on a Hugging Face Space (SPACE_ID), or with
    HF_HUB_OFFLINE=0. Nothing is probed: a studio never reaches out to the network on its own."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return not os.environ.get("SPACE_ID")


# A chat model's habit of announcing its answer ("Sure! Here's a response that meets your request:"): the
# announcement is not part of the draft.
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok|absolutely)\s*[!,.]?\s*)?"
    r"(?:here(?:'|\u2019)?s|here is|below is)\b[^\n:]{0,100}:\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)]?(?=\s)|\n")


def trim_draft(text: str, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """A draft without surrounding whitespace or a leading announcement, and at most `max_chars` long, cut at
    the end of a sentence (or else of a word) rather than in the middle of one."""
    text = (text or "").strip()
    without_preamble = _PREAMBLE.sub("", text, count=1).strip()
    text = without_preamble or text
    if len(text) >= 2 and text[0] == text[-1] == '"' and '"' not in text[1:-1]:
        text = text[1:-1].strip()
    if len(text) <= max_chars:
        return text
    head = text[:max_chars + 1]
    ends = [match.end() for match in _SENTENCE_END.finditer(head) if match.end() <= max_chars]
    if ends and ends[-1] >= max_chars // 2:
        return head[:ends[-1]].strip()
    space = head.rfind(" ", 0, max_chars + 1)
    return (head[:space] if space > 0 else head[:max_chars]).strip()


class LocalDrafter:
    """A model loaded in this process only for drafts (a run's adapter on its base, or a Hub model), loaded on
    the first draft and kept: the next draft should not wait for it again."""

    def __init__(self, spec: str, cache_root: Path, adapter: str | Path | None = None):
        self.spec, self.cache_root, self.adapter = spec, cache_root, adapter
        self._lock = threading.Lock()
        self._loaded = None

    def generate(self, prompts: list[str], max_new_tokens: int = 160) -> list[str]:
        from ftstudio.models import generate_text, load_model, load_tokenizer

        with self._lock:  # one load, one generation at a time
            if self._loaded is None:
                tokenizer = load_tokenizer(self.spec, self.cache_root)
                model = load_model(self.spec, self.cache_root, adapter=self.adapter)
                model.eval()
                self._loaded = (model, tokenizer)
            model, tokenizer = self._loaded
            return generate_text(model, tokenizer, prompts, max_new_tokens)


class LocalDrafters:
    """The local drafting models of one app, by what they load (one per app, passed in: never a module global)."""

    def __init__(self, cache_root: Path):
        self.cache_root = cache_root
        self._drafters: dict[tuple, LocalDrafter] = {}
        self._lock = threading.Lock()

    def generate_function(self, spec: str, adapter: str | Path | None = None) -> Callable[[list[str]], list[str]]:
        key = (spec, str(adapter) if adapter else None)
        with self._lock:
            if key not in self._drafters:
                self._drafters[key] = LocalDrafter(spec, self.cache_root, adapter)
            return self._drafters[key].generate
