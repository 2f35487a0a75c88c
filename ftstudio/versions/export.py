"""Export a version, examples or preference pairs: JSONL, Parquet, a datasets DatasetDict, or the Hugging Face Hub."""

from __future__ import annotations

import json
from pathlib import Path

from ftstudio.store import Store, Version, VersionRow
from ftstudio.templates import Template, render
from ftstudio.versions.splits import SPLITS, VersionError

EXPORT_FORMATS = ("jsonl", "jsonl-prompt", "parquet", "hf")
PREFERENCE_EXPORT_FORMATS = ("jsonl", "parquet", "hf")


def messages_for(row: VersionRow, template: Template) -> list[dict]:
    """An example as chat messages: the template's system prompt (if any), the input, the output or label."""
    messages = [{"role": "system", "content": template.system}] if template.system else []
    return messages + [{"role": "user", "content": row.input or ""},
                       {"role": "assistant", "content": row.output or row.label or ""}]


def export_rows(store: Store, version: Version, tokenizer=None) -> dict[str, list[dict]]:
    """Rows per split with every form: raw fields, chat messages, and rendered prompt/completion."""
    template = Template.from_dict(version.template)
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row in store.version_rows(version.id):
        record = {"input": row.input or "", "output": row.output or "", "label": row.label or "",
                  "messages": messages_for(row, template)}
        if template.preset != "chat" or tokenizer is not None:
            rendered = render(template, row, tokenizer)
            record["prompt"], record["completion"] = rendered.prompt, rendered.completion
        by_split[row.split].append(record)
    return by_split


def export_version(store: Store, version: Version, fmt: str, out: Path, tokenizer=None) -> list[Path]:
    """Write a version to `out` as jsonl (messages), jsonl-prompt, parquet, or a datasets DatasetDict."""
    if version.is_preferences:
        return export_preference_version(store, version, fmt, out)
    if fmt not in EXPORT_FORMATS:
        raise VersionError(f"Unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}.")
    by_split = export_rows(store, version, tokenizer)
    if fmt == "jsonl-prompt" and any("prompt" not in r for rows in by_split.values() for r in rows):
        raise VersionError("Prompt/completion export of a chat-template version needs the base model's tokenizer.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt == "hf":
        dataset_dict = to_dataset_dict(by_split)
        dataset_dict.save_to_disk(str(out))
        return [out]
    for split, rows in by_split.items():
        if not rows:
            continue
        if fmt == "parquet":
            import pandas as pd

            frame = pd.DataFrame(rows)
            frame["messages"] = frame["messages"].map(json.dumps)
            path = out / f"{split}.parquet"
            frame.to_parquet(path, index=False)
        else:
            path = out / f"{split}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for row in rows:
                    record = ({"messages": row["messages"]} if fmt == "jsonl"
                              else {"prompt": row["prompt"], "completion": row["completion"]})
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        written.append(path)
    (out / "version.json").write_text(json.dumps(
        {k: getattr(version, k) for k in ("name", "content_hash", "template", "split", "counts")}, indent=2))
    return written + [out / "version.json"]


def to_dataset_dict(by_split: dict[str, list[dict]]):
    """Rows per split as a datasets DatasetDict (empty splits left out)."""
    from datasets import Dataset, DatasetDict

    return DatasetDict({split: Dataset.from_list(rows) for split, rows in by_split.items() if rows})


def push_version(store: Store, version: Version, repo_id: str, token: str | None, tokenizer=None) -> str:
    """Push a version to the Hugging Face Hub as a private dataset (needs a token and network)."""
    if not token:
        raise VersionError("Pushing to the Hub needs a token: set HF_TOKEN (write access) and try again.")
    to_dataset_dict(export_rows(store, version, tokenizer)).push_to_hub(repo_id, token=token, private=True)
    return f"https://huggingface.co/datasets/{repo_id}"


def preference_records(store: Store, version: Version) -> dict[str, list[dict]]:
    """Rows per split in TRL's form: text, or messages for a conversational version."""
    by_split: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for row in store.preference_rows(version.id):
        values = {key: getattr(row, key) for key in ("prompt", "chosen", "rejected")}
        if row.conversational:
            values = {key: json.loads(value) for key, value in values.items()}
        by_split[row.split].append(values)
    return by_split


def export_preference_version(store: Store, version: Version, fmt: str, out: Path) -> list[Path]:
    """Write prompt/chosen/rejected per split as JSONL, Parquet or a datasets DatasetDict."""
    if fmt not in PREFERENCE_EXPORT_FORMATS:
        raise VersionError(f"A preference version exports as jsonl, parquet or hf, not {fmt!r}.")
    by_split = preference_records(store, version)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        to_dataset_dict(by_split).save_to_disk(str(out))
        return [out]
    written = []
    for split, rows in by_split.items():
        if not rows:
            continue
        path = out / f"{split}.{fmt}"
        if fmt == "parquet":
            import pandas as pd

            pd.DataFrame(rows).to_parquet(path, index=False)
        else:
            with path.open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        written.append(path)
    (out / "version.json").write_text(json.dumps(
        {k: getattr(version, k) for k in ("name", "content_hash", "kind", "split", "counts")}, indent=2))
    return written + [out / "version.json"]
