"""Runs on a cloud GPU through SkyPilot: the task built from a portable run folder, and what it costs.

SkyPilot finds the GPU (any cloud the user has credentials for, or Kubernetes), starts the machine, copies the run
folder up (file_mounts), installs ftstudio (setup) and runs `ftstudio train --run-dir` (run); autostop takes the
machine down when it idles, so a forgotten run does not bill all night. The child in training/cloud_worker.py
launches the task, follows it and brings the folder back. Nothing here imports sky at module level: the app and
the tests build and write tasks without it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import yaml

from ftstudio.run_folder import RunFolder

LAUNCH_FILE = "cloud.yaml"  # the launch settings of a run that trains on a cloud GPU (CloudLaunch)
TASK_FILE = "skypilot-task.yaml"
REMOTE_ROOT = "~/ftstudio"
DEFAULT_AUTOSTOP_MINUTES = 10
SOURCE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


class CloudError(ValueError):
    """A cloud launch that cannot go ahead, with what to do."""


@dataclass
class CloudLaunch:
    """How a run trains on a cloud GPU: written into the run folder as cloud.yaml."""

    gpus: str = "L4:1"  # SkyPilot's accelerators: NAME:COUNT
    cloud: str | None = None  # aws, gcp, azure, lambda, runpod, kubernetes, ...; None: the cheapest enabled
    autostop_minutes: int = DEFAULT_AUTOSTOP_MINUTES  # idle minutes before the cluster is taken down; 0: never
    install: str | None = None  # the setup's install command; None: this studio's own source, copied up
    cluster: str = ""

    def check(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+(:\d+)?", self.gpus or ""):
            raise CloudError(f"--gpus takes SkyPilot's NAME:COUNT, such as L4:1 or A100:2 (got {self.gpus!r}).")
        if self.autostop_minutes < 0:
            raise CloudError("--autostop takes idle minutes before the cluster goes down (0: never).")

    @property
    def gpu_count(self) -> int:
        return int(self.gpus.split(":")[1]) if ":" in self.gpus else 1


def cluster_name(run_dir: Path) -> str:
    """A SkyPilot cluster name for a run folder (lower case, letters, digits and dashes, a letter first)."""
    slug = re.sub(r"[^a-z0-9]+", "-", Path(run_dir).name.lower()).strip("-")
    return f"ftstudio-{slug}"[:60].rstrip("-")


def remote_run_dir(run_dir: Path) -> str:
    return f"{REMOTE_ROOT}/runs/{Path(run_dir).name}"


def source_root() -> Path | None:
    """This studio's source tree (package and pyproject.toml), when it runs from one: the task installs it."""
    package = Path(__file__).resolve().parents[1]
    root = package.parent
    return root if (root / "pyproject.toml").exists() else None


def stage_source(target: Path) -> Path:
    """Copy the package and its pyproject into `target` (not the virtualenv, data or tests) for the task to install."""
    root = source_root()
    if root is None:
        raise CloudError("This studio was not installed from source: give the install command (--install "
                         "'pip install ftstudio==VERSION' or a git URL).")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root / "ftstudio", target / "ftstudio", ignore=SOURCE_IGNORE)
    for name in ("pyproject.toml", "README.md"):
        if (root / name).exists():
            shutil.copy2(root / name, target / name)
    return target


def build_task(run_dir: Path, launch: CloudLaunch, source_dir: Path | None = None) -> dict:
    """The SkyPilot task (the YAML `sky launch` takes) that trains this run folder on a cloud GPU.

    file_mounts carry the run folder (and a local base model, at the same path the run spec names) and this studio's
    source; the cloud worker brings the folder back over the SSH alias SkyPilot writes for the cluster."""
    launch.check()
    folder = RunFolder(run_dir)
    spec = folder.spec
    remote = remote_run_dir(run_dir)
    mounts = {remote: str(Path(run_dir).resolve())}
    base_path = Path(spec.base_model_path or "")
    if spec.base_model_path and base_path.is_absolute() and base_path.is_dir():
        mounts[str(base_path)] = str(base_path)  # a local or embedded model: at the path the run spec names
    if launch.install:
        setup = launch.install
    elif source_dir is not None:
        mounts[f"{REMOTE_ROOT}/src"] = str(Path(source_dir).resolve())
        setup = f"pip install -q {REMOTE_ROOT}/src"
    else:
        setup = f"pip install -q ftstudio=={metadata.version('ftstudio')}"
    resources: dict = {"accelerators": launch.gpus}
    if launch.cloud:
        resources["cloud"] = launch.cloud
    # Autostop with down: an idle cluster is deleted, not just stopped (a stopped one still bills its disk).
    resources["autostop"] = {"idle_minutes": launch.autostop_minutes, "down": True} if launch.autostop_minutes \
        else False
    return {
        "name": launch.cluster or cluster_name(run_dir),
        "resources": resources,
        "file_mounts": mounts,
        "envs": {"HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False"},
        "setup": f"set -e\n{setup}\n",
        # cd first: a relative path in the run's own files then means the same as on the studio's machine.
        "run": f"set -e\ncd {remote}\nftstudio train --run-dir {remote}\n",
    }


def write_task(run_dir: Path, launch: CloudLaunch, path: Path | None = None, source_dir: Path | None = None) -> Path:
    """Write the task as YAML (`sky launch TASK.yaml` runs it) and return its path."""
    path = Path(path) if path else Path(run_dir) / TASK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(build_task(run_dir, launch, source_dir), sort_keys=False))
    return path


def write_launch(run_dir: Path, launch: CloudLaunch) -> None:
    """Mark a run folder as one that trains on a cloud GPU (the manager then starts the cloud worker)."""
    launch.check()
    launch.cluster = launch.cluster or cluster_name(run_dir)
    (Path(run_dir) / LAUNCH_FILE).write_text(yaml.safe_dump(asdict(launch), sort_keys=False))


def read_launch(run_dir: Path) -> CloudLaunch | None:
    """The run folder's cloud launch settings, or None for a run that trains on this machine."""
    path = Path(run_dir) / LAUNCH_FILE
    return CloudLaunch(**yaml.safe_load(path.read_text())) if path.exists() else None


def hourly_cost(gpus: str, cloud: str | None = None) -> tuple[float, str] | None:
    """The cheapest on-demand price per hour SkyPilot's catalog lists for `gpus` (and where), or None when sky is
    not installed or cannot say (no catalog yet, offline)."""
    try:
        import sky

        name, _, count = gpus.partition(":")
        request = sky.list_accelerators(gpus_only=True, name_filter=name, quantity_filter=int(count or 1),
                                        clouds=cloud, case_sensitive=False)
        offers = [offer for infos in sky.get(request).values() for offer in infos if offer.price]
    except Exception:  # sky missing, no API server, no network: the price is a nicety, never a blocker
        return None
    if not offers:
        return None
    cheapest = min(offers, key=lambda offer: offer.price)
    return float(cheapest.price), f"{cheapest.cloud} {cheapest.instance_type}"
