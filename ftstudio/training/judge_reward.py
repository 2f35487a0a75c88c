"""The `judge` reward: an OpenAI-compatible judge scores each completion 1-10 (remote.py's client: retries,
time-outs, bounded concurrency), cached in the run folder so a resumed run, or the same completion sampled twice,
asks once. The score becomes (score - 1) / 9; an answer without a score gives None (TRL leaves it out)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ftstudio.remote import RemoteModel, RemoteModelError
from ftstudio.training.rewards import RewardError, cache_key, completion_text

SYSTEM = ("You grade an assistant's answer to a user's message. Reply with one whole number from 1 (useless or "
          "wrong) to 10 (excellent), and nothing else.")
CACHE_FILE = "judge_cache.jsonl"


def parse_score(answer: str) -> float | None:
    """The first whole number from 1 to 10 in the judge's answer, as 0..1, or None."""
    found = re.search(r"\b(10|[1-9])\b", answer or "")
    return (int(found.group(1)) - 1) / 9 if found else None


class JudgeReward:
    """TRL's batched reward callable named `judge`; `settings` is {base_url, model, concurrency, secrets_home}."""

    __name__ = "judge"

    def __init__(self, settings: dict, folder: Path | None = None):
        if not settings.get("base_url") or not settings.get("model"):
            raise RewardError("The judge reward needs an OpenAI-compatible endpoint: give --judge URL and "
                              "--judge-model NAME.")
        try:
            self.remote = RemoteModel(settings["base_url"], settings["model"], max_tokens=8,
                                      concurrency=int(settings.get("concurrency") or 4),
                                      secrets_home=Path(settings["secrets_home"]) if settings.get("secrets_home")
                                      else None)
        except RemoteModelError as error:
            raise RewardError(str(error)) from None
        self.cache_path = Path(folder) / CACHE_FILE if folder is not None else None
        self.cache: dict[str, float | None] = {}
        if self.cache_path is not None and self.cache_path.exists():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self.cache[entry["key"]] = entry["score"]

    def __call__(self, prompts, completions, **columns):
        texts = [(completion_text(prompt), completion_text(completion)) for prompt, completion in zip(prompts, completions)]
        keys = [cache_key(self.remote.name, prompt, completion) for prompt, completion in texts]
        missing = list(dict.fromkeys(key for key in keys if key not in self.cache))
        if missing:
            asked = {key: texts[keys.index(key)] for key in missing}
            answers = self.remote.chat_many([[{"role": "system", "content": SYSTEM},
                                              {"role": "user", "content": f"Message:\n{prompt}\n\nAnswer:\n{answer}"}]
                                             for prompt, answer in asked.values()])
            new = {}
            for key, answer in zip(asked, answers):
                if isinstance(answer, RemoteModelError):  # not cached: asked again next time
                    continue
                new[key] = parse_score(answer)
            self.cache.update(new)
            if self.cache_path is not None and new:
                with self.cache_path.open("a", encoding="utf-8") as handle:
                    for key, score in new.items():
                        handle.write(json.dumps({"key": key, "score": score}) + "\n")
        return [self.cache.get(key) for key in keys]
