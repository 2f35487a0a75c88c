"""Export a finished run as `merged` (a Hugging Face folder), `gguf` (one merged .gguf file) or `ollama` (that file, a
Modelfile and a README), each carrying the template the run trained with, and each checked against the run as the
studio serves it before it is called done (check.py). The CLI's `export-model` and the Train tab's export panel both
call `export_run`."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ftstudio.models import CAUSAL, ENCODER, SEQ2SEQ, ModelError, family_of, load_model
from ftstudio.run_folder import RunFolder, RunFolderError, is_adapter
from ftstudio.shipping import check as checking
from ftstudio.shipping.chat_templates import input_of, ollama_template, render_ollama_template, run_chat_template
from ftstudio.shipping.gguf_export import QUANTIZATIONS, check_architecture, write_gguf
from ftstudio.templates import Template

FORMATS = ("merged", "gguf", "ollama")
CHECK_PROMPTS = 3
PROMPT_SPLITS = ("test", "validation", "train")  # the run's own held-out prompts first

Progress = Callable[[float, str], None]


class ExportError(ValueError):
    """An export that cannot be made, with what to do instead."""


@dataclass
class ExportResult:
    """What an export wrote, and how closely it matches the studio."""

    format: str
    path: Path
    bytes: int
    quantization: str | None
    check: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": self.format, "path": str(self.path), "bytes": self.bytes,
                "quantization": self.quantization, "check": self.check}


def _source(folder: RunFolder) -> tuple[Path | None, Path | None]:
    """(adapter folder, whole-model folder): what the run trained."""
    if folder.has_adapter():
        return folder.adapter_dir, None
    if (folder.model_dir / "config.json").exists():
        return None, folder.model_dir
    if folder.features_dir.is_dir():
        raise ExportError("This run is the feature baseline: a logistic regression over embeddings, not a model to "
                          "export. Download it from the Train tab instead.")
    raise ExportError(f"The run in {folder.path} has no adapter or model yet: wait for it to finish.")


def check_prompts(folder: RunFolder, family: str, count: int = CHECK_PROMPTS) -> list[str]:
    """A few of the run's own prompts, as its data files hold them (rendered with its template; a classifier's
    texts), from its test split, else validation, else train."""
    key = "text" if family == ENCODER else "prompt"
    for split in PROMPT_SPLITS:
        prompts = [row[key] for row in folder.read_split(split) if row.get(key)]
        if prompts:
            return prompts[:count]
    return []


def _tokenizer(adapter: Path | None, whole: Path | None, base_path: str):
    from transformers import AutoTokenizer

    for candidate in (adapter, whole):
        if candidate is not None and (candidate / "tokenizer_config.json").exists():
            return AutoTokenizer.from_pretrained(candidate)
    return AutoTokenizer.from_pretrained(base_path)


def _load_studio_model(spec, adapter: Path | None, whole: Path | None, base_path: str, family: str):
    """The run as the studio serves it: the base with the adapter on (models.py's loader), in fp32."""
    if whole is not None:
        return load_model(str(whole), family=family, labels=spec.labels).eval()
    return load_model(base_path, adapter=adapter, family=family, labels=spec.labels).eval()


def _save_merged(model, tokenizer, target: Path, spec, family: str, chat_template: str | None) -> None:
    model.save_pretrained(target)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(target)
    if family == ENCODER and spec.labels:
        from ftstudio.training.recipes.classification import save_labels

        save_labels(target, spec.labels)


def _modelfile(gguf_name: str, template: Template, tokenizer) -> tuple[str, str]:
    """The Modelfile and the Go template it carries."""
    source, stops = ollama_template(template, tokenizer)
    if '"""' in source or '"""' in template.system:
        raise ExportError('The run\'s template or system prompt holds """, which a Modelfile cannot quote: export '
                          "gguf and write the Modelfile by hand.")
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{source}"""']
    if template.system:
        lines.append(f'SYSTEM """{template.system}"""')
    lines += [f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}" for stop in stops]
    lines.append("PARAMETER temperature 0")  # greedy, as the studio's check and its reviews by default
    return "\n".join(lines) + "\n", source


def _readme(name: str, fmt: str, check_line: str) -> str:
    return (f"# {name}\n\nExported by ftstudio as {fmt}.\n\n{check_line}\n\n"
            + ("Run it with Ollama:\n\n    ollama create NAME -f Modelfile\n    ollama run NAME\n" if fmt == "ollama"
               else ""))


def _reload(staging: Path, fmt: str, gguf_name: str, family: str):
    """The written export, loaded back as a user would: the folder, or the GGUF file through transformers."""
    import transformers
    from transformers import AutoTokenizer

    model_class = getattr(transformers, {CAUSAL: "AutoModelForCausalLM", ENCODER: "AutoModelForSequenceClassification",
                                         SEQ2SEQ: "AutoModelForSeq2SeqLM"}[family])
    options = {"gguf_file": gguf_name} if fmt != "merged" else {}
    model = model_class.from_pretrained(staging, **options).eval()
    return model, AutoTokenizer.from_pretrained(staging, **options)


def _template_matches(template: Template | None, tokenizer, exported_tokenizer, prompts: list[str],
                      go_template: str | None) -> float | None:
    """The share of the check's prompts whose exported rendering (the shipped chat template, and the Modelfile's
    TEMPLATE for ollama) gives the studio's very prompt and token ids."""
    if template is None or not prompts:
        return None
    matched = 0
    for prompt in prompts:
        text = input_of(template, tokenizer, prompt)
        if text is None:
            continue
        rendered = exported_tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                          add_generation_prompt=True)
        same = rendered == prompt and (exported_tokenizer(rendered, add_special_tokens=False)["input_ids"]
                                       == tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if go_template is not None:
            same = same and render_ollama_template(go_template, template.system, text) == prompt
        matched += same
    return round(matched / len(prompts), 4)


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _prepare(run_dir: Path, fmt: str, quantization: str | None, base_model_path: str | None):
    """Everything an export needs to know before loading a model, each refusal said before any work."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: choose {', '.join(FORMATS)}.")
    if fmt != "merged" and quantization not in QUANTIZATIONS:
        raise ExportError(f"Quantization {quantization!r} is not offered: choose {' or '.join(QUANTIZATIONS)}.")
    folder = RunFolder(run_dir)
    try:
        spec = folder.spec
    except RunFolderError as error:
        raise ExportError(str(error)) from None
    adapter, whole = _source(folder)
    base_path = base_model_path or spec.base_model_path or spec.base_model
    family = family_of(str(whole) if whole else base_path)
    if fmt != "merged":
        if family != CAUSAL:
            raise ExportError(f"This run trained a {'classifier' if family == ENCODER else 'seq2seq model'}: it "
                              "exports as merged only (GGUF and Ollama run causal LMs).")
        from transformers import AutoConfig

        check_architecture(AutoConfig.from_pretrained(str(whole) if whole else base_path))
    if adapter is not None and not is_adapter(adapter):
        raise ExportError(f"No adapter at {adapter}.")
    return folder, spec, adapter, whole, base_path, family


def export_run(run_dir: Path, out: Path, fmt: str = "merged", quantization: str | None = "f16",
               base_model_path: str | None = None, name: str | None = None,
               progress: Progress | None = None) -> ExportResult:
    """Export the run in `run_dir` into the new folder `out`, check it, and write check.json there."""
    step = progress or (lambda fraction, message: None)
    quantization = quantization if fmt != "merged" else None
    folder, spec, adapter, whole, base_path, family = _prepare(Path(run_dir), fmt, quantization, base_model_path)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists: name a new folder for the export.")
    name = name or Path(run_dir).name
    template = Template.from_dict(spec.template) if family == CAUSAL and spec.template else None
    step(0.05, "loading the run as the studio serves it")
    try:
        tokenizer = _tokenizer(adapter, whole, base_path)
        model = _load_studio_model(spec, adapter, whole, base_path, family)
    except (OSError, ModelError) as error:
        raise ExportError(f"Could not load the run's model: {error}") from None
    chat_template = run_chat_template(template, tokenizer) if template is not None else None
    prompts = check_prompts(folder, family)
    step(0.2, f"answering {len(prompts)} of the run's prompts with the studio's model")
    references = checking.studio_reference(model, tokenizer, prompts, family)
    step(0.35, "merging the adapter into the base weights")
    merged = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        return _write_and_check(staging, out, fmt, quantization, name, merged, tokenizer, spec, family, template,
                                chat_template, prompts, references, step)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_and_check(staging, out, fmt, quantization, name, merged, tokenizer, spec, family, template, chat_template,
                     prompts, references, step) -> ExportResult:
    gguf_name, go_template = f"{name}.{quantization}.gguf", None
    if fmt == "merged":
        step(0.45, "saving the merged model")
        _save_merged(merged, tokenizer, staging, spec, family, chat_template)
    else:
        write_gguf(merged, tokenizer, chat_template or tokenizer.chat_template, staging / gguf_name, quantization,
                   name, lambda fraction, message: step(0.4 + 0.35 * fraction, message))
    if fmt == "ollama":
        modelfile, go_template = _modelfile(gguf_name, template or Template("chat"), tokenizer)
        (staging / "Modelfile").write_text(modelfile, encoding="utf-8")
    del merged
    step(0.8, "reloading the export and checking it against the studio")
    exported, exported_tokenizer = _reload(staging, fmt, gguf_name, family)
    check = checking.compare(references, exported, family)
    check["template_matches"] = _template_matches(template, tokenizer, exported_tokenizer, prompts, go_template)
    (staging / checking.CHECK_FILE).write_text(json.dumps(check, indent=1) + "\n", encoding="utf-8")
    if fmt == "ollama":
        (staging / "README.md").write_text(_readme(name, fmt, checking.describe(check)), encoding="utf-8")
    staging.rename(out)
    path = out / gguf_name if fmt == "gguf" else out
    step(1.0, "done")
    return ExportResult(fmt, path, _folder_bytes(out), quantization, check)
