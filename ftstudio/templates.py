"""Prompt templates: turn an example into (prompt, completion) text, in a sandbox, with token previews.

Presets: the base model's own chat template, an [INST] instruction style, and
Alpaca. Custom templates are Jinja rendered in jinja2's immutable sandbox, so a
template can read the example's fields but never reach Python internals.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

PRESETS = ("chat", "instruction", "alpaca", "custom")
MAX_RENDERED_CHARS = 200_000

PRESET_TEXT = {
    "instruction": ("[INST] {% if system %}{{ system }}\n\n{% endif %}{{ input }} [/INST]", " {{ output }}"),
    "alpaca": (
        "{% if system %}{{ system }}{% else %}Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request.{% endif %}\n\n"
        "### Instruction:\n{{ input }}\n\n### Response:\n",
        "{{ output }}",
    ),
}


class TemplateError(ValueError):
    """A template that cannot be used, with what is wrong in words a user can act on."""


@dataclass
class Template:
    """How examples become training text; saved with every dataset version."""

    preset: str = field(default="chat", metadata={"help": "chat (the model's own), instruction, alpaca or custom."})
    system: str = field(default="", metadata={"help": "Optional system prompt put before every example."})
    prompt: str = field(default="", metadata={"help": "custom only: Jinja for the prompt; fields input, system, label."})
    completion: str = field(default="{{ output }}", metadata={"help": "custom only: Jinja for the trained part."})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Template":
        return cls(**{k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__})


@dataclass
class Rendered:
    prompt: str
    completion: str

    @property
    def text(self) -> str:
        return self.prompt + self.completion


_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render_jinja(source: str, values: dict, part: str, fields: str = "input, output, label, system") -> str:
    """Render a user's template in the sandbox; every failure becomes a TemplateError saying what to fix."""
    try:
        text = _environment.from_string(source).render(**values)
    except SecurityError as error:
        raise TemplateError(f"The {part} template tries something unsafe and was stopped ({error}). "
                            f"Templates may only use the fields {fields}.") from None
    except TemplateSyntaxError as error:
        raise TemplateError(f"The {part} template has a syntax error on line {error.lineno}: {error.message}") from None
    except UndefinedError as error:
        raise TemplateError(f"The {part} template uses an unknown field ({error.message}); "
                            f"available: {fields}.") from None
    except Exception as error:  # anything else a template can raise (type errors, division by zero, ...)
        raise TemplateError(f"The {part} template failed: {type(error).__name__}: {error}") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateError(f"The {part} template produced {len(text):,} characters; the limit is {MAX_RENDERED_CHARS:,}.")
    return text


def _field(example, name: str) -> str:
    """A field of an example given as a dict or as a store row (Example, VersionRow)."""
    value = example.get(name) if isinstance(example, dict) else getattr(example, name, None)
    return value or ""


@functools.lru_cache(maxsize=16)
def _adds_default_system_prompt(tokenizer, chat_template: str) -> bool:
    """Whether this chat template writes a system prompt of its own into a conversation that has none (probed once
    per tokenizer and template, not for every example rendered)."""
    probe = [{"role": "user", "content": "\x00"}]
    plain = tokenizer.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    try:
        empty = tokenizer.apply_chat_template([{"role": "system", "content": ""}] + probe, add_generation_prompt=True,
                                              tokenize=False)
    except Exception:  # a template that refuses system turns adds no default either
        return False
    return len(plain) > len(empty)


def chat_messages(template: Template, user_text: str, tokenizer) -> list[dict]:
    """The conversation for the chat preset. An empty system prompt means none: some chat templates (SmolLM2's,
    Qwen's) put their own default system prompt in when a conversation has none, so an empty system turn is
    sent instead, which they keep empty."""
    user = [{"role": "user", "content": user_text}]
    if template.system:
        return [{"role": "system", "content": template.system}] + user
    if _adds_default_system_prompt(tokenizer, tokenizer.chat_template):
        return [{"role": "system", "content": ""}] + user
    return user


def render(template: Template, example, tokenizer=None) -> Rendered:
    """The prompt and the completion (the part trained on) for one example (a dict or a store row)."""
    if template.preset not in PRESETS:
        raise TemplateError(f"Unknown template preset {template.preset!r}: choose one of {', '.join(PRESETS)}.")
    values = {"input": _field(example, "input"), "output": _field(example, "output") or _field(example, "label"),
              "label": _field(example, "label"), "system": template.system}
    if template.preset == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise TemplateError("The chat preset needs a base model whose tokenizer has a chat template; "
                                "pick the instruction or alpaca preset instead.")
        messages = chat_messages(template, values["input"], tokenizer)
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": values["output"]}],
                                             tokenize=False)
        if not full.startswith(prompt):  # a template that rewrites earlier turns: fall back on the answer alone
            return Rendered(prompt, values["output"] + (tokenizer.eos_token or ""))
        return Rendered(prompt, full[len(prompt):].rstrip("\n"))
    prompt_source, completion_source = PRESET_TEXT.get(template.preset, (template.prompt, template.completion))
    if template.preset == "custom" and not prompt_source.strip():
        raise TemplateError("A custom template needs a prompt part, e.g. 'Question: {{ input }}\\nAnswer:'.")
    completion = render_jinja(completion_source, values, "completion")
    eos = getattr(tokenizer, "eos_token", None) or ""
    return Rendered(render_jinja(prompt_source, values, "prompt"), completion + eos)


def check(template: Template, tokenizer=None) -> None:
    """Render a made-up example so a broken template is refused when chosen, not at training time."""
    render(template, {"input": "An example input", "output": "An example output", "label": "a_label"}, tokenizer)


@dataclass
class TokenPreview:
    tokens: list[tuple[str, bool]]
    """(token text, trained on?) in order."""
    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def readable_tokens(tokenizer, ids: list[int]) -> list[str]:
    """Token texts for display. Byte-level tokens that hold part of one character (an emoji is often three or
    four) are shown joined, as the character, instead of one replacement sign each."""
    pieces, pending = [], []
    for token_id in ids:
        pending.append(token_id)
        text = tokenizer.decode(pending)
        if "\ufffd" in text and len(pending) < 8:
            continue
        pieces.append(text)
        pending = []
    if pending:
        pieces.append(tokenizer.decode(pending))
    return pieces


def token_preview(template: Template, example, tokenizer, completion_only: bool = True) -> TokenPreview:
    """Tokenize a rendered example the way training will, marking which tokens the loss sees."""
    rendered = render(template, example, tokenizer)
    prompt_ids = tokenizer(rendered.prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(rendered.completion, add_special_tokens=False)["input_ids"]
    tokens = [(text, not completion_only) for text in readable_tokens(tokenizer, prompt_ids)]
    tokens += [(text, True) for text in readable_tokens(tokenizer, completion_ids)]
    return TokenPreview(tokens, len(prompt_ids), len(completion_ids))


def token_lengths(template: Template, examples: list, tokenizer) -> list[int]:
    """Token count of every rendered example, for the length histogram and the too-long warning."""
    texts = [render(template, e, tokenizer).text for e in examples]
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
