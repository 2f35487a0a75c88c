"""Outputs of the systems under review for the same inputs: the base model, tuned runs, the data's reference.

Prompts are rendered with the exact template and system prompt each run trained with (its run spec), the
decoding settings are recorded with every output, and an output already stored for the same system, model,
adapter, prompt and settings is reused instead of generated again. The heavy part runs behind a backend
(a child process in the app and the CLI; a fake that speaks the same interface in tests).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ftstudio.config import Settings
from ftstudio.evaluation.contestants import Contestant, ask_hosted, contestant_prompts, find_contestant
# Prompts moved to their own module; callers still import them from here.
from ftstudio.evaluation.prompts import (MAX_PROMPTS, EvalInput, inputs_from_prompts, parse_prompts,  # noqa: F401
                                         read_prompt_file)
from ftstudio.evaluation.systems import BASE, REFERENCE, EvaluationError, run_label
from ftstudio.run_folder import RunFolder, RunFolderError, RunSpec
from ftstudio.store import Generation, Run, Store
from ftstudio.templates import Template, render

SPLITS = ("test", "validation", "train")


@dataclass
class DecodingSettings:
    """How outputs are decoded; recorded with every output. Greedy unless a temperature above 0 is set."""

    max_new_tokens: int = field(default=128, metadata={"help": "Longest answer, in tokens."})
    temperature: float = field(default=0.0, metadata={"help": "0: greedy, the same answer every time; "
                                                               "above 0: sampled, more varied."})
    top_p: float = field(default=1.0, metadata={"help": "Sampling only: keep the smallest set of tokens whose "
                                                        "probability adds up to this."})
    seed: int = field(default=0, metadata={"help": "Sampling only: the same seed gives the same answers."})
    batch_size: int = field(default=0, metadata={"help": "Prompts generated together; 0 picks 16 on a CPU, "
                                                         "64 on a GPU."})
    precision: str = field(default="auto", metadata={"help": "auto: bf16 on GPUs that compute it natively, fp32 on "
                                                             "CPUs; or float32 / bfloat16."})

    def check(self) -> None:
        problems = []
        if not 1 <= self.max_new_tokens <= 4096:
            problems.append("max new tokens must be between 1 and 4096")
        if not 0 <= self.temperature <= 5:
            problems.append("temperature must be between 0 and 5")
        if not 0 < self.top_p <= 1:
            problems.append("top-p must be above 0 and at most 1")
        if self.batch_size < 0:
            problems.append("batch size must be 0 (automatic) or more")
        if self.precision not in ("auto", "float32", "bfloat16"):
            problems.append("precision must be auto, float32 or bfloat16")
        if problems:
            raise EvaluationError("Check the decoding settings: " + "; ".join(problems) + ".")

    def resolved(self) -> "DecodingSettings":
        """These settings with `auto` precision decided for this machine (recorded with the outputs)."""
        # CPUs keep fp32 even where bf16 is native: on `ftstudio bench generate` (docs/benchmarks.md) bf16 was barely
        # faster there, peaked far higher in memory (the fp32 checkpoint stays mapped while the bf16 copy is made)
        # and changed most greedy answers. GPUs with native bf16 use it.
        if self.precision != "auto":
            return self
        import torch

        from ftstudio.training.device import native_bf16

        native = torch.cuda.is_available() and native_bf16()[0]
        return DecodingSettings(**{**asdict(self), "precision": "bfloat16" if native else "float32"})

    def to_dict(self) -> dict:
        values = asdict(self)
        if self.temperature == 0:  # greedy decoding ignores these: the same outputs whatever they say
            values["top_p"], values["seed"] = 1.0, 0
        return values


@dataclass
class System:
    """One of the systems compared: the base model, a tuned run, or the reference output from the data."""

    name: str
    label: str
    run: Run | None = None
    template: Template | None = None
    adapter_dir: str | None = None
    contestant: Contestant | None = None  # a few-shot prompt or a registered system (evaluation.contestants)


@dataclass
class GenerationBatch:
    """What one call generated: every system's stored answers for the inputs, how many were new and how many reused,
    whether it finished or was cancelled, and the settings key the answers are stored under (a review's key)."""

    systems: list[str]
    generations: list[Generation]
    created: int
    reused: int
    state: str
    settings_key: str
    failed: list[str] = field(default_factory=list, kw_only=True)  # hosted requests that failed: a rerun retries

    def to_dict(self) -> dict:
        """The answers as JSON (a review adds its id: see compare.ReviewedBatch)."""
        return {"systems": self.systems, "created": self.created, "reused": self.reused, "state": self.state,
                **({"failed": len(self.failed), "failures": self.failed[:5]} if self.failed else {}),
                "generations": [{"example_id": g.example_id, "item_key": g.item_key, "system": g.system,
                                 "input": g.input, "prompt": g.prompt, "output": g.output, "settings": g.settings}
                                for g in self.generations]}


class Backend(Protocol):
    def generate(self, base_model_path: str, adapters: dict[str, str], requests: list[dict], settings: dict,
                 on_results: Callable[[list[dict]], None], should_stop: Callable[[], bool] = ...,
                 on_started: Callable[[Path], None] | None = None) -> str:
        """Produce {cache_key, output, seconds} for every request, batch by batch; return finished or cancelled."""


# --- systems -------------------------------------------------------------------------


def run_spec(run: Run) -> RunSpec:
    """The spec of a run's folder (RunSpec), or an EvaluationError when the folder is gone."""
    try:
        return RunFolder(run.run_dir).spec
    except RunFolderError as error:
        raise EvaluationError(f"Run {run.id}: {error}") from None


def tuned_system(store: Store, run: Run) -> System:
    if run.status != "finished":
        raise EvaluationError(f"Run {run.id} is {run.status}: only a finished run has an adapter to compare.")
    spec = run_spec(run)
    if spec.recipe in ("sequence_classification", "feature_baseline"):
        raise EvaluationError(f"Run {run.id} is a classifier: it writes no text to compare. Its test predictions are "
                              f"stored already; read them with `ftstudio report --run {run.id}` or on the Results tab.")
    folder = RunFolder(run.run_dir)
    if not folder.has_adapter():
        raise EvaluationError(f"Run {run.id} finished but its adapter folder {folder.adapter_dir} is missing.")
    template = Template.from_dict(spec.template)
    return System(run.system, run_label(run), run, template, str(folder.adapter_dir))


def resolve_systems(store: Store, run: Run, names: list[str] | None = None) -> list[System]:
    """The systems named (default: this run and the base model), tuned runs first, base, then reference.

    The base model answers each prompt rendered with `run`'s template, so it sees exactly what the run saw.
    """
    names = [n.strip() for n in (names or [run.system, BASE]) if n.strip()]
    if not names:
        raise EvaluationError("Choose at least two systems to compare, e.g. base and this run.")
    primary = tuned_system(store, run)
    base_path = run_spec(run).base_model_path
    systems: list[System] = []
    for name in dict.fromkeys(names):
        if name == BASE:
            systems.append(System(BASE, "base model", None, primary.template, None))
        elif name == REFERENCE:
            systems.append(System(REFERENCE, "reference (the data's own output)", None, primary.template, None))
        elif (contestant := find_contestant(store, name)) is not None:
            systems.append(System(name, contestant.label, None, primary.template, None, contestant))
        else:
            other = store.find_run(name, run.project_id)
            if other is None:
                raise EvaluationError(f"No run {name!r} in this project: name runs by id, e.g. run-{run.id}.")
            system = tuned_system(store, other)
            if run_spec(other).base_model_path != base_path:
                raise EvaluationError(f"Run {other.id} was trained on another base model than run {run.id}: "
                                      "compare runs of one base model, whose outputs come from one loaded model.")
            systems.append(system)
    if len(systems) < 2:
        raise EvaluationError("Choose at least two systems to compare, e.g. base and this run.")
    order = {"run": 0, BASE: 1, REFERENCE: 2}
    return sorted(systems, key=lambda s: order.get("run" if s.run else s.name, 1.5))


# --- inputs --------------------------------------------------------------------------


def _item_metadata(store: Store, example_id: int | None, label: str | None) -> dict:
    """Fields a result can be broken down by: the label, and the item's kind, author and short metadata."""
    metadata = {"label": label} if label else {}
    example = store.get_example(example_id) if example_id is not None else None
    item = store.get_item(example.item_id) if example and example.item_id else None
    if item is not None:
        metadata.update({k: v for k, v in (("kind", item.kind), ("author", item.author)) if v})
        for key, value in list((item.metadata or {}).items())[:40]:
            if key not in ("input", "output", "new_text", "label") and isinstance(value, (str, int, float, bool)) \
                    and len(str(value)) <= 80:
                metadata.setdefault(key, value)
    return metadata


def inputs_from_split(store: Store, run: Run, split: str = "test") -> list[EvalInput]:
    """The inputs of a split of the version the run trained on, with their reference outputs."""
    if split not in SPLITS:
        raise EvaluationError(f"Unknown split {split!r}: choose test, validation or train.")
    version_id = evaluation_version_id(run)
    if version_id is None:
        if run.version_id is not None:  # a DPO run on pairs from a file: no input/output version to draw from
            raise EvaluationError(f"Run {run.id} trained on preference pairs that came from a file, not from a "
                                  "version's examples: type or upload prompts to compare it.")
        raise EvaluationError(f"Run {run.id} has no dataset version in this studio: type or upload prompts instead.")
    rows = store.version_rows(version_id, split)
    if not rows:
        version = store.get_version(version_id)
        raise EvaluationError(f"Version {version.name if version else version_id} has no {split} examples. Freeze a "
                              f"version with a {split} split (at least 10 examples give one), or type or upload "
                              "prompts instead.")
    return [EvalInput(f"example:{row.example_id}", row.input or "", row.output or row.label, row.example_id,
                      version_id, _item_metadata(store, row.example_id, row.label)) for row in rows]


def evaluation_version_id(run: Run) -> int | None:
    """The input/output version whose splits a run is compared on: its own, or for a DPO run the version its
    preference pairs were answers to (recorded in its run spec)."""
    folder = RunFolder(run.run_dir)
    if folder.has_spec() and folder.spec.trained_on_preferences:
        return folder.spec.evaluation_version_id
    return run.version_id


# --- what a run learned from -------------------------------------------------------------


def trained_inputs_of(store: Store, run: Run, seen: frozenset[int] = frozenset()) -> dict[str, tuple[str, bool]]:
    """Every input a run learned from: why, and whether as a preference pair's prompt. Its training split, the
    prompts of its preference pairs, and (for a run that started from another) everything that run learned from."""
    if run.id in seen:
        return {}
    version = store.get_version(run.version_id) if run.version_id is not None else None
    preferences = version is not None and version.is_preferences
    if preferences:
        rows, why = store.preference_rows(version.id, "train"), f"run {run.id} trained on their preference pairs"
    else:
        rows, why = (store.version_rows(version.id, "train") if version else []), f"run {run.id} trained on them"
    learned = {row.input: (why, preferences) for row in rows if row.input}
    try:
        start = run_spec(run).start_run
    except EvaluationError:
        start = None
    started_from = store.get_run(int(start)) if start else None
    if started_from is not None:
        for text, (reason, from_pairs) in trained_inputs_of(store, started_from, seen | {run.id}).items():
            learned.setdefault(text, (f"{reason} (run {run.id} started from it)", from_pairs))
    return learned


def left_out_inputs(store: Store, run: Run, systems: list[str], inputs: set[str]) -> dict[str, str]:
    """Which of `inputs` a review of `systems` leaves out, and why: an input a run under review learned from.

    A run graded on what it learned from looks better than it is. The one exception is the train split of the
    version the review's run is compared on (the Inputs choice "train split"): answers there are for preference
    votes that feed DPO, not a grade; a preference pair's prompt is left out even there."""
    if not inputs:
        return {}
    version_id = evaluation_version_id(run)
    train = {row.input for row in store.version_rows(version_id, "train")} if version_id is not None else set()
    reasons: dict[str, str] = {}
    for name in systems:
        other = store.find_run(name, run.project_id) if name not in (BASE, REFERENCE) else None
        for text, (why, from_pairs) in (trained_inputs_of(store, other).items() if other else ()):
            if text in inputs and (from_pairs or text not in train):
                reasons.setdefault(text, why)
    return reasons


# --- keys -----------------------------------------------------------------------------


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def settings_key(base_model: str, decoding: DecodingSettings, split: str | None = None) -> str:
    """One batch's identity: the base model and the decoding settings (batch size aside: it changes nothing).
    Answers to train-split prompts get a key of their own: votes on them are preference data, and must never join
    (and contaminate) a review that grades the run on held-out prompts."""
    values = {k: v for k, v in decoding.to_dict().items() if k != "batch_size"}
    if split == "train":
        return _digest("settings", base_model, values, "train")
    return _digest("settings", base_model, values)


def adapter_identity(system: System) -> str | None:
    """A tuned system's adapter by run and file, so an adapter trained again gets new outputs."""
    if system.adapter_dir is None:
        return None
    weights = next(Path(system.adapter_dir).glob("adapter_model.*"), None)
    stat = weights.stat() if weights else None
    return f"{system.run.id}:{stat.st_size if stat else 0}:{stat.st_mtime_ns if stat else 0}"


# --- generating ----------------------------------------------------------------------


def generate_answers(store: Store, studio: Settings, run: Run, systems: list[str] | None = None,
                     split: str | None = "test", prompts: list[str] | None = None,
                     decoding: DecodingSettings | None = None, backend: Backend | None = None, tokenizer=None,
                     on_progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] = lambda: False,
                     on_started: Callable[[Path], None] | None = None, user_name: str | None = None,
                     inputs: list[EvalInput] | None = None) -> GenerationBatch:
    """Outputs of every system for every input (`inputs`, else the typed `prompts`, else the run's `split`), stored;
    what is stored already is reused. Generation only: the blind review over them is opened by the review side
    (evaluation.compare)."""
    from ftstudio.evaluation.jobs import SubprocessBackend
    from ftstudio.models import load_tokenizer

    decoding = decoding or DecodingSettings()
    decoding.check()
    decoding = decoding.resolved()
    chosen = resolve_systems(store, run, systems)
    if inputs is None:
        inputs = inputs_from_prompts(prompts) if prompts else inputs_from_split(store, run, split or "test")
    base_path = run_spec(run).base_model_path or run.base_model
    key = settings_key(run.base_model, decoding, None if prompts else split)
    needs_tokenizer = any(s.template and s.template.preset == "chat" for s in chosen)
    if needs_tokenizer and tokenizer is None:
        tokenizer = load_tokenizer(base_path, studio.model_cache)
    record = decoding.to_dict() | {"base_model": run.base_model}
    extra = [s.contestant for s in chosen if s.contestant]
    prompts = contestant_prompts(store, evaluation_version_id(run), extra, [i.input for i in inputs],
                                 lambda text: render(chosen[0].template, {"input": text}, tokenizer).prompt)

    rows: dict[str, dict] = {}
    for system in chosen:
        identity = adapter_identity(system) or (system.contestant.identity if system.contestant else None)
        for item in inputs:
            if system.name == REFERENCE and not item.reference:
                continue
            prompt = prompts.get((system.name, item.input)) or render(system.template, {"input": item.input},
                                                                      tokenizer).prompt
            cache_key = _digest(system.name, run.base_model, identity, prompt, key,
                                item.item_key if system.name == REFERENCE else None)
            rows[cache_key] = {
                "project_id": run.project_id, "cache_key": cache_key, "settings_key": key, "item_key": item.item_key,
                "system": system.name, "run_id": system.run.id if system.run else None,
                "version_id": item.version_id, "example_id": item.example_id, "input": item.input,
                "reference": item.reference, "prompt": prompt, "settings": record if system.name != REFERENCE else
                {"source": "the dataset version's output"}, "metadata": item.metadata, "created_by": user_name}
    stored = store.generations_by_keys(list(rows))
    references = [dict(row, output=row["reference"], seconds=0.0) for k, row in rows.items()
                  if row["system"] == REFERENCE and k not in stored]
    created = store.add_generations(references) if references else 0
    missing = [row for k, row in rows.items() if k not in stored and row["system"] != REFERENCE]
    hosted = {s.name: s.contestant for s in chosen if s.contestant and s.contestant.hosted}
    total, done = len(missing), 0
    state, failed = "finished", []
    if any(row["system"] in hosted for row in missing):
        answers, failed = ask_hosted(studio, [r for r in missing if r["system"] in hosted], hosted,
                                     decoding.max_new_tokens, decoding.temperature)
        created += store.add_generations([dict(rows[a["cache_key"]], **a) for a in answers])
        missing = [row for row in missing if row["system"] not in hosted]
    if missing:
        backend = backend or SubprocessBackend(studio.home / "generations")
        adapters = {s.name: s.adapter_dir for s in chosen if s.adapter_dir}

        def record_batch(results: list[dict]) -> None:
            nonlocal done, created
            finished = [dict(rows[r["cache_key"]], output=r["output"], seconds=r.get("seconds"),
                             latency_ms=None if r.get("seconds") is None else 1000 * r["seconds"],
                             input_tokens=r.get("prompt_tokens"), output_tokens=r.get("new_tokens"))
                        for r in results if r["cache_key"] in rows]
            created += store.add_generations(finished)
            done += len(finished)
            if on_progress:
                on_progress(done, total)

        if on_progress:
            on_progress(0, total)
        state = backend.generate(base_path, adapters, [{"cache_key": r["cache_key"], "system": r["system"],
                                                        "prompt": r["prompt"]} for r in missing],
                                 {**decoding.to_dict()}, record_batch, should_stop, on_started)
    generations = list(store.generations_by_keys(list(rows)).values())
    generations.sort(key=lambda g: ([s.name for s in chosen].index(g.system), g.item_key))
    return GenerationBatch([s.name for s in chosen], generations, created, len(stored), state, key, failed=failed)


def describe_progress(done: int, total: int) -> str:
    if not total:
        return "Every output was already stored: nothing to generate."
    return f"Generated {done} of {total} outputs ({math.floor(100 * done / total)}%)."
