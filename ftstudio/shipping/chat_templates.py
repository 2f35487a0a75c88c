"""The run's prompt format, carried out of the studio: as a Jinja chat template (the tokenizer's `chat_template` in a
merged folder and in a GGUF's metadata) and as an Ollama Modelfile `TEMPLATE` (a Go template).

Both are built so that a one-turn conversation renders exactly the prompt the run trained on and the studio
generates from (`templates.render`), its system prompt included when the conversation brings none. No library turns
a Jinja chat template into a Go template, so the Go one is found by rendering the Jinja one with marker strings in
place of the system prompt and the user's text and cutting the result at the markers; `render_ollama_template`
renders the small Go-template subset written here, as Ollama does, for the tests and the export's own check.
"""

from __future__ import annotations

import json
import re

from ftstudio.templates import PRESET_TEXT, Template, chat_messages, render

SYSTEM_MARK, USER_MARK, ANSWER_MARK = "@@ftstudio-system@@", "@@ftstudio-user@@", "@@ftstudio-answer@@"


class TemplateExportError(ValueError):
    """A run's template that cannot be carried into the asked-for format, with what to do."""


def _keep_whitespace(source: str) -> str:
    """A studio template's Jinja, marked so that transformers' chat-template environment (trim_blocks and
    lstrip_blocks on) renders it as the studio's (both off) does: `{%+` and `+%}` switch both off per tag."""
    source = re.sub(r"\{%(?![-+])", "{%+", source)
    return re.sub(r"(?<![-+])%\}", "+%}", source)


def _with_default_system(system: str, chat_template: str) -> str:
    """A chat template that puts `system` first when a conversation brings no system turn of its own."""
    default = json.dumps({"role": "system", "content": system}, ensure_ascii=False)
    return ("{%- if not messages or messages[0]['role'] != 'system' %}{%- set messages = [" + default
            + "] + messages %}{%- endif %}" + chat_template)


def _preset_template(template: Template, system: str) -> str:
    """The instruction, alpaca or custom preset as a chat template: each user turn is the prompt part rendered with
    that turn as `input`, each assistant turn the completion part with it as `output`, then the EOS token."""
    prompt_source, completion_source = PRESET_TEXT.get(template.preset, (template.prompt, template.completion))
    default = json.dumps(system, ensure_ascii=False)
    return ("{%- set ns = namespace(system=" + default + ") %}"
            "{%- for message in messages %}"
            "{%- if message['role'] == 'system' %}{%- set ns.system = message['content'] %}"
            "{%- elif message['role'] == 'user' %}{%- set input = message['content'] %}{%- set system = ns.system %}"
            "{%- set output = '' %}{%- set label = '' %}" + _keep_whitespace(prompt_source)
            + "{%+ elif message['role'] == 'assistant' %}{%- set output = message['content'] %}"
            "{%- set input = '' %}{%- set system = ns.system %}{%- set label = message['content'] %}"
            + _keep_whitespace(completion_source) + "{{ eos_token }}"
            "{%- endif %}{%- endfor %}")


def _base_chat_template(tokenizer) -> str:
    source = getattr(tokenizer, "chat_template", None)
    if isinstance(source, dict):  # several named templates: the default one is what apply_chat_template uses
        source = source.get("default")
    if not isinstance(source, str) or not source:
        raise TemplateExportError("The run's chat preset needs the base model's chat template, and its tokenizer "
                                  "has none: export the merged folder and set a chat template by hand.")
    return source


def run_chat_template(template: Template, tokenizer) -> str:
    """The chat template to ship: a conversation of one user turn (and no system turn) renders the prompt the run
    trained on, system prompt included; a conversation's own system turn replaces the run's."""
    if template.preset != "chat":
        return _preset_template(template, template.system)
    base = _base_chat_template(tokenizer)
    messages = chat_messages(template, USER_MARK, tokenizer)
    if messages[0]["role"] == "system":  # the run's system prompt, or the empty one that keeps a default out
        return _with_default_system(messages[0]["content"], base)
    return base


def _bare_template(template: Template, tokenizer) -> tuple[str, bool]:
    """The template without the run's default system prompt, and whether the studio always sends a system turn."""
    if template.preset != "chat":
        return _preset_template(template, ""), False
    base = _base_chat_template(tokenizer)
    return base, chat_messages(template, USER_MARK, tokenizer)[0]["role"] == "system"


def _apply(tokenizer, chat_template: str, messages: list[dict], generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=chat_template, add_generation_prompt=generation,
                                         tokenize=False)


def _go_text(text: str) -> str:
    """Literal text in a Go template: only `{{` means something there."""
    return text.replace("{{", '{{ "{{" }}')


def ollama_template(template: Template, tokenizer) -> tuple[str, list[str]]:
    """The Modelfile's TEMPLATE (Ollama's `.System`/`.Prompt`/`.Response` form) and its stop strings (the
    end-of-turn text's special tokens, and the EOS token)."""
    bare, always_system = _bare_template(template, tokenizer)
    user = [{"role": "user", "content": USER_MARK}]
    with_system = _apply(tokenizer, bare, [{"role": "system", "content": SYSTEM_MARK}] + user, True)
    without = _apply(tokenizer, bare, user, True)
    answered = _apply(tokenizer, bare, [{"role": "system", "content": SYSTEM_MARK}] + user
                      + [{"role": "assistant", "content": ANSWER_MARK}], False)
    if with_system.count(SYSTEM_MARK) != 1 or with_system.count(USER_MARK) != 1 or without.count(USER_MARK) != 1 \
            or with_system.index(SYSTEM_MARK) > with_system.index(USER_MARK) or answered.count(ANSWER_MARK) != 1:
        raise TemplateExportError("The run's template does not put one system prompt before one user turn, so it "
                                  "has no Ollama TEMPLATE equivalent: export gguf and write the Modelfile by hand.")
    # The user's turn onwards is the longest ending both renderings share (short of the system prompt); what
    # comes before the system turn is the longest beginning they share in what is left.
    system_end = with_system.index(SYSTEM_MARK) + len(SYSTEM_MARK)
    suffix = 0
    while suffix < min(len(without), len(with_system) - system_end) and with_system[-suffix - 1] == without[-suffix - 1]:
        suffix += 1
    prefix = 0
    while prefix < min(len(without) - suffix, with_system.index(SYSTEM_MARK)) and with_system[prefix] == without[prefix]:
        prefix += 1
    tail = with_system[len(with_system) - suffix:]
    system_part = with_system[prefix:len(with_system) - suffix]
    no_system_part = without[prefix:len(without) - suffix]
    if USER_MARK not in tail:
        raise TemplateExportError("The run's template writes the user's turn differently with a system prompt, so it "
                                  "has no Ollama TEMPLATE equivalent: export gguf and write the Modelfile by hand.")

    def fill(text: str) -> str:
        return _go_text(text).replace(SYSTEM_MARK, "{{ .System }}").replace(USER_MARK, "{{ .Prompt }}")

    if always_system:
        system_block = fill(system_part)
    else:
        system_block = "{{ if .System }}" + fill(system_part) + (
            "{{ else }}" + fill(no_system_part) if no_system_part else "") + "{{ end }}"
    end_of_turn = answered[answered.index(ANSWER_MARK) + len(ANSWER_MARK):]
    source = fill(with_system[:prefix]) + system_block + fill(tail) + "{{ .Response }}" + _go_text(end_of_turn)
    specials = [t for t in tokenizer.all_special_tokens if t and t in end_of_turn]
    stops = list(dict.fromkeys(specials + ([tokenizer.eos_token] if tokenizer.eos_token else [])))
    expected = {SYSTEM_MARK: with_system, "": with_system.replace(SYSTEM_MARK, "") if always_system else without}
    if any(render_ollama_template(source, system, USER_MARK) != text for system, text in expected.items()):
        raise TemplateExportError("The Ollama TEMPLATE made from the run's template does not render as the template "
                                  "does: export gguf and write the Modelfile by hand.")
    return source, stops


_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)


def render_ollama_template(source: str, system: str = "", prompt: str = "", response: str | None = None) -> str:
    """Render the Go-template subset `ollama_template` writes (text, `.System`, `.Prompt`, `.Response`, string
    literals, `if .System`/`else`/`end`) as Ollama renders a conversation's last turn: with `response` None the
    output stops at `{{ .Response }}`, where the model's answer begins."""
    values = {".System": system, ".Prompt": prompt, ".Response": response or ""}
    out, showing, position = [], [True], 0
    for match in _ACTION.finditer(source):
        if all(showing):
            out.append(source[position:match.start()])
        position, action = match.end(), match.group(1)
        if action.startswith("if "):
            showing.append(bool(values[action[3:].strip()]))
        elif action == "else":
            showing[-1] = not showing[-1]
        elif action == "end":
            showing.pop()
        elif not all(showing):
            continue
        elif action == ".Response" and response is None:
            return "".join(out)
        elif action in values:
            out.append(values[action])
        elif action.startswith('"'):
            out.append(json.loads(action))
        else:
            raise ValueError(f"Not in the subset this renderer knows: {{{{ {action} }}}}")
    if all(showing):
        out.append(source[position:])
    return "".join(out)


def input_of(template: Template, tokenizer, prompt: str) -> str | None:
    """The user's text inside a prompt the run's template rendered (its data files keep only the rendering);
    None when the prompt is not of this template's shape."""
    marked = render(template, {"input": USER_MARK}, tokenizer).prompt
    before, _, after = marked.partition(USER_MARK)
    if prompt.startswith(before) and prompt.endswith(after) and len(prompt) >= len(before) + len(after):
        return prompt[len(before):len(prompt) - len(after)]
    return None
