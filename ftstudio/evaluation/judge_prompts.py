"""What the judge is asked: a system prompt, a sandboxed template and a rubric per mode, editable per project and
versioned (every saved change is a new version; judgments record the version they were made with).

The built-in prompts follow MT-Bench's judge prompts in spirit (an impartial judge, order and length not to sway
it, the verdict in double brackets on the last line), written for this studio's data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ftstudio.store import Project, Store
from ftstudio.templates import TemplateError, render_jinja

MODES = ("pairwise", "single")
BUILT_IN = "built-in"
FIELDS = "input, reference, answer_a, answer_b (pairwise), answer (single), rubric"

RUBRICS = {
    "generation": "Judge how well each answer does what the request asks: helpful, correct, faithful to the "
                  "request (and to the reference answer, when one is given), and in a fitting style and length.",
    "classification": "The task is classification: the better answer gives the correct label, matching the "
                      "reference answer when one is given. Extra text around the label counts against an answer.",
    "structured": "The task asks for structured output: the better answer is valid JSON with the fields the "
                  "request needs, correct values, and nothing outside the JSON.",
}

SYSTEM_PROMPTS = {
    "pairwise": "You are an impartial judge. Compare two answers to the same request and decide which is better. "
                "Do not let the order of the answers, their length or their style alone decide. Explain your "
                "reasoning in a few sentences, then give your verdict on the last line, exactly as [[A]] if answer "
                "A is better, [[B]] if answer B is better, or [[C]] for a tie.",
    "single": "You are an impartial judge. Rate one answer to a request on a scale of 1 (useless) to 10 "
              "(excellent). Explain your reasoning in a few sentences, then give your rating on the last line, "
              "exactly in the form Rating: [[N]], for example Rating: [[6]].",
}

TEMPLATES = {
    "pairwise": "{{ rubric }}\n\n[Request]\n{{ input }}\n"
                "{% if reference %}\n[Reference answer]\n{{ reference }}\n{% endif %}"
                "\n[Answer A]\n{{ answer_a }}\n\n[Answer B]\n{{ answer_b }}\n",
    "single": "{{ rubric }}\n\n[Request]\n{{ input }}\n"
              "{% if reference %}\n[Reference answer]\n{{ reference }}\n{% endif %}"
              "\n[Answer]\n{{ answer }}\n",
}

MAX_PROMPT_CHARS = 20_000


@dataclass
class JudgePrompt:
    mode: str
    system_prompt: str
    template: str
    rubric: str
    version: str = BUILT_IN  # built-in, or v<N> of the project's saved prompt
    created_by: str | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps([self.mode, self.system_prompt, self.template, self.rubric]).encode()
                              ).hexdigest()[:16]

    def messages(self, input: str, reference: str | None = None, answer_a: str = "", answer_b: str = "",
                 answer: str = "") -> list[dict]:
        """The chat conversation sent to the judge."""
        values = {"input": input or "", "reference": reference or "", "answer_a": answer_a or "",
                  "answer_b": answer_b or "", "answer": answer or "", "rubric": self.rubric}
        user = render_jinja(self.template, values, "judge prompt", FIELDS)
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise TemplateError(f"Unknown judging mode {mode!r}: choose pairwise or single.")
    return mode


def default_prompt(project: Project, mode: str) -> JudgePrompt:
    _check_mode(mode)
    return JudgePrompt(mode, SYSTEM_PROMPTS[mode], TEMPLATES[mode], RUBRICS.get(project.task_type,
                                                                                  RUBRICS["generation"]))


def active_prompt(store: Store, project: Project, mode: str) -> JudgePrompt:
    """The project's latest saved prompt for this mode, else the built-in one."""
    saved = store.judge_prompts(project.id, _check_mode(mode))
    if not saved:
        return default_prompt(project, mode)
    latest = saved[0]
    return JudgePrompt(mode, latest.system_prompt, latest.template, latest.rubric, f"v{latest.version}",
                       latest.created_by)


def prompt_versions(store: Store, project: Project, mode: str) -> list[JudgePrompt]:
    """Every saved version, newest first, then the built-in one."""
    return [JudgePrompt(mode, row.system_prompt, row.template, row.rubric, f"v{row.version}", row.created_by)
            for row in store.judge_prompts(project.id, _check_mode(mode))] + [default_prompt(project, mode)]


def save_prompt(store: Store, project: Project, mode: str, system_prompt: str, template: str, rubric: str,
                user_name: str | None = None) -> tuple[JudgePrompt, bool]:
    """Save an edited prompt as the project's next version (unless it is the one in use already); returns the
    prompt in use and whether a version was added. A template that does not render is refused, with why."""
    candidate = JudgePrompt(_check_mode(mode), (system_prompt or "").strip(), template or "", (rubric or "").strip())
    if not candidate.system_prompt or not candidate.template.strip():
        raise TemplateError("A judge prompt needs a system prompt and a template.")
    for text, part in ((candidate.system_prompt, "system prompt"), (candidate.template, "template"),
                       (candidate.rubric, "rubric")):
        if len(text) > MAX_PROMPT_CHARS:
            raise TemplateError(f"The judge's {part} is {len(text):,} characters; keep it under {MAX_PROMPT_CHARS:,}.")
    # Render with marked sample answers: a template that would not show the judge the answers is refused.
    sample = candidate.messages("REQUEST", "REFERENCE", "<<first answer>>", "<<second answer>>", "<<the answer>>")
    shown = sample[1]["content"]
    needed = {"pairwise": {"answer_a": "<<first answer>>", "answer_b": "<<second answer>>"},
              "single": {"answer": "<<the answer>>"}}[mode]
    missing = [name for name, marker in needed.items() if marker not in shown]
    if missing:
        raise TemplateError(f"The {mode} template must show the judge {' and '.join(missing)}: put "
                            f"{' and '.join('{{ ' + name + ' }}' for name in missing)} in it.")
    current = active_prompt(store, project, mode)
    if current.digest == candidate.digest:
        return current, False
    row = store.save_judge_prompt(project.id, mode, candidate.system_prompt, candidate.template, candidate.rubric,
                                  candidate.digest, user_name)
    return active_prompt(store, project, mode), row is not None
