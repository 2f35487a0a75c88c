"""One loaded base model answering for several names: `base` with every adapter switched off, each run with its
adapter switched on by name. Prompts are rendered with each run's own template, tokenized and decoded exactly as
the generation worker (ftstudio.evaluation.worker) does, so a greedy answer here equals the one `ftstudio generate
--run` stored for the same input (tests/test_serve_model.py holds them equal).
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

from ftstudio.shipping.manifest import ServeManifest, ServedModel
from ftstudio.templates import Template, TemplateError, chat_messages, render


class RequestError(ValueError):
    """A request the server cannot answer as sent (HTTP 400), with what to change."""


@dataclass(frozen=True)
class Sampling:
    """How one batch decodes: greedy (temperature 0) unless sampling is asked for. Requests batch only with others
    that decode the same way."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0


@dataclass
class Answer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # stop | length


def prompt_for(model: ServedModel, messages: list[dict], tokenizer) -> str:
    """The prompt a served model sees for a chat: one user turn (and an optional system turn) is rendered with the
    run's template exactly as the review rendered its inputs; a system turn in the request replaces the run's system
    prompt. A longer conversation goes through the tokenizer's chat template (the chat preset only)."""
    template = Template.from_dict(model.template)
    system = [m["content"] for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    if system:
        template.system = "\n\n".join(system)
    if len(turns) == 1 and turns[0]["role"] == "user":
        try:
            return render(template, {"input": turns[0]["content"]}, tokenizer).prompt
        except TemplateError as error:
            raise RequestError(str(error)) from None
    if turns[-1]["role"] != "user":
        raise RequestError("The last message must be the user's: the model answers the user.")
    if template.preset != "chat":
        raise RequestError(f"{model.name} was trained with the {template.preset} template on single requests: send one "
                           "user message (and optionally a system message).")
    conversation = chat_messages(template, "", tokenizer)[:-1] + turns
    return tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)


class _RowStreamer:
    """Hands each row's new text to its callback as tokens arrive (transformers' streamers stream one row only).

    A row's text so far is decoded whole each step and stripped as the final answer is, so the pieces put together
    are exactly the answer; text that ends in half a character waits for the rest."""

    def __init__(self, tokenizer, callbacks: list[Callable[[str], None] | None], limits: list[int]):
        self.tokenizer, self.callbacks, self.limits = tokenizer, callbacks, limits
        self.tokens: list[list[int]] = [[] for _ in callbacks]
        self.sent = [""] * len(callbacks)
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        for row, token in enumerate(value.reshape(len(self.callbacks), -1)[:, -1].tolist()):
            if self.callbacks[row] is None or len(self.tokens[row]) >= self.limits[row]:
                continue
            self.tokens[row].append(token)
            text = self.tokenizer.decode(self.tokens[row], skip_special_tokens=True).strip()
            if text.endswith("\ufffd") or not text.startswith(self.sent[row]):
                continue
            if len(text) > len(self.sent[row]):
                self.callbacks[row](text[len(self.sent[row]):])
                self.sent[row] = text

    def end(self) -> None:
        pass

    def finish(self, row: int, answer: str) -> None:
        """Send what is left of a row's answer (the final decode decides)."""
        if self.callbacks[row] is not None and answer.startswith(self.sent[row]) and len(answer) > len(self.sent[row]):
            self.callbacks[row](answer[len(self.sent[row]):])


class AdapterEngine:
    """The base model loaded once with every served adapter by name; one generation at a time."""

    def __init__(self, manifest: ServeManifest, precision: str = "float32"):
        import torch

        from ftstudio.models import load_model
        from transformers import AutoTokenizer

        self.manifest = manifest
        self.models = {model.name: model for model in manifest.models}
        self.tokenizer = AutoTokenizer.from_pretrained(manifest.base_model_path)
        self.tokenizer.padding_side = "left"  # batched rows end where their answers start
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[precision]
        self.adapters = dict(manifest.adapters)
        self.model = load_model(manifest.base_model_path, adapter=self.adapters or None, dtype=dtype)
        self.model.eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        eos = self.model.generation_config.eos_token_id
        self.eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in self.eos:
            self.eos.append(self.tokenizer.eos_token_id)
        self._lock = threading.Lock()

    def add_model(self, served: ServedModel) -> None:
        """Serve one more name (a run's adapter loaded onto the same base weights); a known name is kept as is."""
        with self._lock:
            if served.name in self.models:
                return
            if served.adapter_dir:
                if self.adapters:
                    self.model.load_adapter(served.adapter_dir, adapter_name=served.name)
                else:
                    from peft import PeftModel

                    self.model = PeftModel.from_pretrained(self.model, served.adapter_dir, adapter_name=served.name)
                self.model.eval()
                self.adapters[served.name] = served.adapter_dir
            self.models[served.name] = served

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def prompt(self, name: str, messages: list[dict]) -> str:
        return prompt_for(self.models[name], messages, self.tokenizer)

    def _switch(self, name: str):
        if self.adapters and name in self.adapters:
            self.model.set_adapter(name)
            return nullcontext()
        return self.model.disable_adapter() if self.adapters else nullcontext()

    def generate(self, name: str, prompts: list[str], max_new_tokens: list[int], sampling: Sampling = Sampling(),
                 on_text: list[Callable[[str], None] | None] | None = None) -> list[Answer]:
        """Answers to prompts of one served model, generated together (left padded); `on_text` streams a row."""
        import torch
        from transformers import GenerationConfig, set_seed

        sampled = sampling.temperature > 0
        # The worker's decoding settings (evaluation/worker.py), so greedy answers match the stored ones.
        config = GenerationConfig(max_new_tokens=max(max_new_tokens), do_sample=sampled,
                                  temperature=sampling.temperature if sampled else None,
                                  top_p=sampling.top_p if sampled else None, top_k=None, eos_token_id=self.eos,
                                  pad_token_id=self.tokenizer.pad_token_id)
        encoded = [self.tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
        device = next(self.model.parameters()).device
        batch = self.tokenizer.pad({"input_ids": encoded}, return_tensors="pt").to(device)
        streamer = _RowStreamer(self.tokenizer, on_text, max_new_tokens) if on_text and any(on_text) else None
        with self._lock, self._switch(name), torch.inference_mode():
            set_seed(sampling.seed)
            output = self.model.generate(**batch, generation_config=config, streamer=streamer)
        answers = []
        for row, tokens in enumerate(output[:, batch["input_ids"].shape[1]:].tolist()):
            tokens = tokens[:max_new_tokens[row]]
            stop = next((index for index, token in enumerate(tokens) if token in self.eos), None)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            if streamer is not None:
                streamer.finish(row, text)
            answers.append(Answer(text, len(encoded[row]), len(tokens) if stop is None else stop + 1,
                                  "length" if stop is None else "stop"))
        return answers
