"""The bundled sample data as ready projects: posts in one author's voice, a mailbox with phishing, and a support
desk's question/reply pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftstudio.config import Settings
from ftstudio.importing import ImportOptions, ImportReport, Progress, import_paths
from ftstudio.store import Store, StoreError

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


@dataclass(frozen=True)
class SampleProject:
    key: str
    """The short name `ftstudio samples load KEY` takes."""
    name: str
    task_type: str
    paths: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    description: str = ""


SAMPLE_PROJECTS = (
    SampleProject(
        "posts", "Sample: LinkedIn posts", "generation", ("posts",),
        description="A post writer trained on one author's LinkedIn posts.",
    ),
    SampleProject(
        "emails", "Sample: phishing emails", "classification", ("emails/inbox.mbox", "emails/eml"),
        labels=("phishing", "legitimate"), description="A classifier telling phishing from legitimate email.",
    ),
    SampleProject(
        "qa", "Sample: support Q&A", "generation", ("qa_pairs.jsonl",),
        description="A reply writer: customer emails and the support desk's replies, imported as ready-made examples.",
    ),
)


def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        raise StoreError(f"The sample data is missing ({SAMPLES_DIR}); run from a clone of the ftstudio repository.")
    return SAMPLES_DIR


def find_samples(names: list[str] | None = None) -> tuple[SampleProject, ...]:
    """The sample projects called by these keys or names (any case); all of them for None, [] or ["all"]."""
    if not names or [name.casefold() for name in names] == ["all"]:
        return SAMPLE_PROJECTS
    by_name = {key.casefold(): sample for sample in SAMPLE_PROJECTS for key in (sample.key, sample.name)}
    unknown = [name for name in names if name.casefold() not in by_name]
    if unknown:
        raise StoreError(f"No sample called {', '.join(map(repr, unknown))}: choose from "
                         f"{', '.join(sample.key for sample in SAMPLE_PROJECTS)}, or all.")
    return tuple(dict.fromkeys(by_name[name.casefold()] for name in names))


def load_sample_projects(store: Store, settings: Settings, progress: Progress | None = None,
                         user_name: str | None = None, names: list[str] | None = None) -> list[ImportReport]:
    """Create the sample projects (if missing) and import their files; importing twice only finds duplicates.

    `names` picks some by key or name (see find_samples); all of them by default."""
    root = samples_dir()
    chosen = find_samples(names)
    reports = []
    for index, sample in enumerate(chosen):
        project = store.find_project(sample.name) or store.create_project(
            sample.name, sample.task_type, sample.description, list(sample.labels) if sample.labels else None, user_name
        )

        def scaled(fraction: float, message: str, index=index) -> None:
            if progress:
                progress((index + fraction) / len(chosen), f"{sample.name}: {message}")

        paths = [root / p for p in sample.paths]
        reports.append(import_paths(store, project, paths, settings.ingest, ImportOptions(), scaled, user_name))
    return reports
