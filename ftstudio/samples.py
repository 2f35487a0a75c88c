"""The bundled sample data: posts in one author's voice and a mailbox with phishing, as two ready projects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftstudio.config import Settings
from ftstudio.importing import ImportOptions, ImportReport, Progress, import_paths
from ftstudio.store import Store, StoreError

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


@dataclass(frozen=True)
class SampleProject:
    name: str
    task_type: str
    paths: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    description: str = ""


SAMPLE_PROJECTS = (
    SampleProject(
        "Sample: LinkedIn posts", "generation", ("posts",),
        description="A post writer trained on one author's LinkedIn posts.",
    ),
    SampleProject(
        "Sample: phishing emails", "classification", ("emails/inbox.mbox", "emails/eml"),
        labels=("phishing", "legitimate"), description="A classifier telling phishing from legitimate email.",
    ),
)


def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        raise StoreError(f"The sample data is missing ({SAMPLES_DIR}); run from a clone of the ftstudio repository.")
    return SAMPLES_DIR


def load_sample_projects(store: Store, settings: Settings, progress: Progress | None = None,
                         user_name: str | None = None) -> list[ImportReport]:
    """Create the sample projects (if missing) and import their files; importing twice only finds duplicates."""
    root = samples_dir()
    reports = []
    for index, sample in enumerate(SAMPLE_PROJECTS):
        project = store.find_project(sample.name) or store.create_project(
            sample.name, sample.task_type, sample.description, list(sample.labels) if sample.labels else None, user_name
        )

        def scaled(fraction: float, message: str, index=index) -> None:
            if progress:
                progress((index + fraction) / len(SAMPLE_PROJECTS), f"{sample.name}: {message}")

        paths = [root / p for p in sample.paths]
        reports.append(import_paths(store, project, paths, settings.ingest, ImportOptions(), scaled, user_name))
    return reports
