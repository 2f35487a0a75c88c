"""The app side of training: prepare runs, queue them (one at a time per machine), launch the child,
poll its run folder, record progress in the database, cancel, resume, re-attach after a restart.

Only this process writes the database; the child only ever touches its run folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from ftstudio.child_process import clear_cancel, python_module_command, request_cancel, start_child
from ftstudio.config import EMBEDDED_ENCODER, Settings
from ftstudio.models import materialize
from ftstudio.run_folder import RunFolder, RunFolderError
from ftstudio.store import Project, Store
from ftstudio.templates import Template, render
from ftstudio.training.config import TrainConfig
from ftstudio.training.distributed import LaunchError, check_launch, is_distributed, write_accelerate_config
from ftstudio.training.dpo_data import check_objective, copy_adapter_of, plan_dpo_run, start_run
from ftstudio.training.memory import estimate_memory
from ftstudio.training.prepare import RunError, new_run_folder, write_run_folder
from ftstudio.training.skypilot import read_launch
from ftstudio.training.tracking import resolve_report_to, tracking_dir
from ftstudio.wording import quoted

ACTIVE = ("queued", "running")
RESUMABLE = ("cancelled", "interrupted", "failed")
CANCEL_GRACE_SECONDS = 120


def worker_command(run_dir: Path, accelerate_config: str | None = None) -> list[str]:
    """The worker under `accelerate launch` given an accelerate config (several GPUs or processes), else directly:
    the launcher adds an interpreter importing torch (docs/benchmarks.md) and sets OMP_NUM_THREADS=1 on CPUs."""
    if accelerate_config:
        return python_module_command("accelerate.commands.launch", "--config_file", accelerate_config, "-m",
                                     "ftstudio.training.worker", str(run_dir))
    return python_module_command("ftstudio.training.worker", str(run_dir))


def _pid_runs(pid: int | None, run_dir: str) -> bool:
    """Is `pid` alive and still our worker for this run folder (pids get reused)?"""
    if not pid:
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and any(run_dir in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def available_memory() -> tuple[int, str, bool]:
    import torch

    if torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return free, torch.cuda.get_device_name(0), True
    import psutil

    return psutil.virtual_memory().available, "CPU (RAM)", False


class RunManager:
    def __init__(self, store: Store, settings: Settings, tokenizer_loader=None):
        self.store = store
        self.settings = settings
        self._tokenizer_loader = tokenizer_loader
        self._processes: dict[int, subprocess.Popen] = {}
        self._offsets: dict[int, int] = {}
        self._cancel_requested: dict[int, float] = {}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- creating runs ----------------------------------------------------------

    def _tokenizer(self, base_model: str):
        if self._tokenizer_loader is not None:
            return self._tokenizer_loader()
        from ftstudio.models import load_tokenizer

        return load_tokenizer(base_model, self.settings.model_cache)

    def create_run(self, project: Project, version_name: str, config: TrainConfig, user_name: str | None = None,
                   base_model: str | None = None, check_memory: bool = True, queue: bool = True,
                   options: dict | None = None) -> int:
        """Write the run folder from a frozen version and queue the run; refuse one that cannot fit.

        The recipe follows the base model's family (from its config), the project's task and the method;
        `options` are the recipe's own settings (class-weighted loss, ...)."""
        from transformers import AutoConfig

        from ftstudio.models import model_family
        from ftstudio.training.recipes import RecipeError, choose_recipe

        config.check()
        try:
            if check_memory:  # a run that trains here (not one prepared for elsewhere, or a cloud GPU)
                check_launch(config)
        except LaunchError as error:
            raise RunError(str(error)) from None
        version = self.store.find_version(project.id, version_name)
        if version is None:
            if not self.store.list_versions(project.id):
                raise RunError(f"{quoted(project.name)} has no frozen version yet: freeze one on the Datasets tab "
                               "first (runs train only on a frozen version).")
            if not (version_name or "").strip():
                raise RunError("Pick a dataset version first (runs train only on a frozen version).")
            raise RunError(f"{quoted(project.name)} has no version {quoted(version_name)}: freeze one on the Datasets tab "
                           "first.")
        check_objective(version, config)
        plan = plan_dpo_run(self.store, project, version, config) if config.is_dpo else None
        start = plan.start_run if plan is not None else start_run(self.store, project, config)
        if start is not None:
            if base_model and base_model != start.base_model:
                raise RunError(f"Run {start.id} was trained on {start.base_model}: a run that starts from it uses "
                               "the same base model.")
            base_model = start.base_model
        base_model = base_model or (EMBEDDED_ENCODER if config.method == "features" else self.settings.base_model)
        base_path = materialize(base_model, self.settings.model_cache)
        model_config = AutoConfig.from_pretrained(base_path)
        try:
            recipe = choose_recipe(model_family(model_config), project.task_type, config.method, config.objective)
        except RecipeError as error:
            raise RunError(str(error)) from None
        if plan is not None:
            split_rows, recorded = plan.split_rows, {"name": version.name, "content_hash": version.content_hash,
                                                     "counts": version.counts, "template": plan.template,
                                                     "kind": version.kind}
        elif recipe.data == "text_label":
            split_rows, recorded = self._labeled_rows(version, project), version
        elif recipe.data == "prompt_reference":  # GRPO: prompts, references, labels, and the rewards' records
            from ftstudio.training.grpo_data import plan_grpo_run

            grpo = plan_grpo_run(self.store, project, version, recipe.read_options(options),
                                 self._tokenizer(base_model), self.settings.home)
            split_rows, recorded = grpo.split_rows, version
        elif recipe.data == "text":
            from ftstudio.versions import text_rows

            split_rows = text_rows(self.store, version)
            recorded = {"name": version.name, "content_hash": version.content_hash, "counts": version.counts,
                        "template": {}, "kind": version.kind}
        else:
            split_rows, recorded = self._rendered_rows(version, base_model), version
        config.report_to = resolve_report_to(config.report_to, self.settings.report_to)
        if check_memory:
            self._check_memory(model_config, config, recipe, split_rows, base_model)
        extra = {"recipe": recipe.name, "recipe_options": asdict(recipe.read_options(options)) if recipe.options
                 else {}, **(plan.extra() if plan else {"start_run": start.id} if start else {}),
                 **(grpo.extra if recipe.data == "prompt_reference" else {}),
                 **({"tracking_dir": str(tracking_dir(self.settings.home))} if config.report_to else {})}
        if recipe.data == "text_label":
            from ftstudio.training.recipes.classification_metrics import class_weights

            extra["labels"] = list(project.labels or [])
            extra["class_weights"] = class_weights([r["label"] for r in split_rows.get("train", [])],
                                                   extra["labels"])
        run_dir = new_run_folder(self.settings.runs_dir, project.name, version.name)
        try:
            write_run_folder(run_dir, config, base_model, base_path, recorded, split_rows,
                             {"name": project.name, "task_type": project.task_type}, extra, recipe.splits)
            copy_adapter_of(start, run_dir)
            if recipe.data == "prompt_reference":
                grpo.write_files(run_dir)
        except Exception:  # an empty folder left behind would look like a broken run
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        method = config.method if config.objective == "sft" else (  # dpo, dpo-qlora, cpt, cpt-qlora
            config.objective + ("" if config.method == "lora" else f"-{config.method}"))
        run_id = self.store.create_run(project.id, version.id, run_dir.name, base_model, method,
                                       config.to_dict(), str(run_dir), user_name,
                                       status="queued" if queue else "prepared")
        if queue:
            self.start_next()
        return run_id

    def _check_memory(self, model_config, config: TrainConfig, recipe, split_rows: dict, base_model: str) -> None:
        """Refuse a run whose estimated peak memory, for this version's longest sequence, does not fit here."""
        from ftstudio.training.device import choose_precision
        from ftstudio.training.memory import longest_sequence

        available, device, cuda = available_memory()
        # The dtype the worker will pick (on CPUs a 0.1 s measurement, once per app process).
        value_bytes = choose_precision(config).dtype.itemsize
        longest = longest_sequence(split_rows, self._tokenizer(base_model), config, recipe.data)
        estimate = estimate_memory(model_config, config, cuda, available, device, value_bytes=value_bytes,
                                   recipe=recipe, longest_tokens=longest)
        if not estimate.fits:
            raise RunError(f"This run {estimate.describe()}. Lower batch_size or max_length, or choose qlora.")

    def _labeled_rows(self, version, project: Project) -> dict[str, list[dict]]:
        """A classification version's examples as text/label for an encoder (no template: the head reads the
        text as it is)."""
        split_rows: dict[str, list[dict]] = {}
        for row in self.store.version_rows(version.id):
            label = row.label or row.output
            if label:
                split_rows.setdefault(row.split, []).append({"example_id": row.example_id, "text": row.input or "",
                                                             "label": label})
        return split_rows

    def _rendered_rows(self, version, base_model: str) -> dict[str, list[dict]]:
        """An SFT version's examples as prompt/completion, rendered with the version's template."""
        template = Template.from_dict(version.template)
        tokenizer = self._tokenizer(base_model) if template.preset == "chat" else None
        split_rows: dict[str, list[dict]] = {}
        for row in self.store.version_rows(version.id):
            rendered = render(template, row, tokenizer)
            split_rows.setdefault(row.split, []).append({"prompt": rendered.prompt, "completion": rendered.completion})
        return split_rows

    def import_run_folder(self, folder: Path, project: Project, user_name: str | None = None) -> int:
        """Bring a run folder trained elsewhere (`ftstudio train --run-dir`) into the studio."""
        folder = Path(folder).resolve()
        try:
            RunFolder(folder).spec
        except RunFolderError as error:
            raise RunError(str(error)) from None
        target = self.settings.runs_dir / folder.name
        if folder != target.resolve():
            if target.exists():
                raise RunError(f"A run folder named {folder.name} is already in the studio.")
            shutil.copytree(folder, target)
        imported = RunFolder(target)
        spec = imported.spec
        state = imported.read_status().get("state", "interrupted")
        version = self.store.find_version_by_hash(project.id, spec.dataset_version.get("content_hash", ""))
        run_id = self.store.create_run(project.id, version.id if version else None, target.name, spec.base_model,
                                       spec.config["method"], spec.config, str(target), user_name,
                                       status=state if state in ("finished", "cancelled", "failed") else "interrupted")
        self._record_metrics(run_id, target)
        if state == "finished":
            self._record_predictions(run_id)
        return run_id

    # --- the queue ------------------------------------------------------------

    def start_next(self) -> None:
        """Start the oldest queued run when nothing is running: one run per machine at a time."""
        with self._lock:
            if self.store.list_runs(statuses=("running",)):
                return
            queued = self.store.list_runs(statuses=("queued",))
            if queued:
                self._launch(queued[-1])

    def _launch(self, run) -> None:
        run_dir = Path(run.run_dir)
        clear_cancel(run_dir)
        # Several processes: the run folder's own accelerate.yaml (a fresh rendezvous port each launch).
        config = TrainConfig.from_dict(RunFolder(run_dir).spec.config)
        accelerate_file = str(write_accelerate_config(run_dir, config)) if is_distributed(config) else \
            self.settings.accelerate_config
        command = worker_command(run_dir, accelerate_file)
        if read_launch(run_dir) is not None:  # trains on a cloud GPU: the child launches and follows it there
            command = python_module_command("ftstudio.training.cloud_worker", str(run_dir))
        # Its own process group: cancel reaches every process accelerate starts.
        process = start_child(command, run_dir, new_session=True)
        self._processes[run.id] = process
        self.store.update_run(run.id, status="running", pid=process.pid,
                              started_at=run.started_at or datetime.now(), finished_at=None)

    def queue(self, run_id: int) -> None:
        """Queue a prepared run (one created with queue=False, e.g. then marked to train on a cloud GPU)."""
        run = self.store.get_run(run_id)
        if run is None or run.status != "prepared":
            raise RunError(f"Run {run_id} is not a prepared run.")
        self.store.update_run(run_id, status="queued")
        self.start_next()

    def cancel(self, run_id: int) -> None:
        run = self.store.get_run(run_id)
        if run is None:
            raise RunError(f"No run {run_id}.")
        if run.status not in ACTIVE:
            raise RunError(f"Run {run_id} is {run.status}: there is nothing to cancel.")
        if run.status == "queued":
            self.store.update_run(run_id, status="cancelled")
        elif run.status == "running":
            request_cancel(run.run_dir)
            self._cancel_requested[run_id] = time.time()

    def resume(self, run_id: int) -> None:
        run = self.store.get_run(run_id)
        if run is None:
            raise RunError(f"No run {run_id}.")
        if run.status not in RESUMABLE:
            raise RunError(f"Run {run_id} is {run['status']}; only cancelled, interrupted or failed runs resume.")
        clear_cancel(run.run_dir)
        self.store.update_run(run_id, status="queued", error=None)
        self.start_next()

    # --- polling ----------------------------------------------------------------

    def _record_metrics(self, run_id: int, run_dir: Path) -> None:
        records, self._offsets[run_id] = RunFolder(run_dir).read_metrics(self._offsets.get(run_id, 0))
        changes = {}
        for record in records:
            changes["step"] = record.get("step", changes.get("step"))
            if record.get("max_steps"):
                changes["max_steps"] = record["max_steps"]
            if "loss" in record:
                changes["train_loss"] = record["loss"]
            if "eval_loss" in record:
                changes["eval_loss"] = record["eval_loss"]
        if changes:
            self.store.update_run(run_id, **{k: v for k, v in changes.items() if v is not None})

    def poll(self) -> None:
        """Record progress of running runs, notice the ones that ended, and start the next queued one."""
        with self._lock:
            for run in self.store.list_runs(statuses=("running",)):
                run_dir = Path(run.run_dir)
                self._record_metrics(run.id, run_dir)
                process = self._processes.get(run.id)
                alive = process.poll() is None if process else _pid_runs(run.pid, run.run_dir)
                requested = self._cancel_requested.get(run.id)
                if alive and requested and time.time() - requested > CANCEL_GRACE_SECONDS:
                    self._kill(run)  # did not stop at a step boundary in time
                if alive:
                    continue
                status = RunFolder(run_dir).read_status()
                state = status.get("state")
                final = state if state in ("finished", "cancelled", "failed") else "interrupted"
                error = status.get("error") if final == "failed" else None
                if final == "interrupted":
                    error = "The training process ended without saying why (killed, or out of memory): resume it."
                if final == "finished":  # before the run reads as finished, so its results are whole when it does
                    self._record_predictions(run.id)
                self.store.update_run(run.id, status=final, pid=None, finished_at=datetime.now(), error=error)
                self._processes.pop(run.id, None)
                self._cancel_requested.pop(run.id, None)
            self.start_next()

    def _record_predictions(self, run_id: int) -> None:
        """A classifier's predictions into the generations table, where the results view reads outputs."""
        from ftstudio.training.classification_results import store_predictions

        store_predictions(self.store, self.store.get_run(run_id))

    def _kill(self, run) -> None:
        try:
            os.killpg(os.getpgid(run.pid), signal.SIGTERM)
        except (ProcessLookupError, PermissionError, TypeError):
            pass

    def reattach(self) -> None:
        """On app start: follow runs whose worker is still alive; mark the others interrupted."""
        for run in self.store.list_runs(statuses=("running",)):
            if not _pid_runs(run.pid, run.run_dir):
                self.store.update_run(run.id, status="interrupted", pid=None)

    def wait(self, run_id: int, interval: float = 1.0, on_progress=None, timeout: float | None = None):
        """Poll until the run ends (the CLI's `train` waits like this); RunError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.poll()
            run = self.store.get_run(run_id)
            if on_progress:
                on_progress(run)
            if run.status not in ACTIVE:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise RunError(f"Run {run_id} is still {run.status} after {timeout:.0f} s.")
            process = self._processes.get(run_id)  # None: a child this manager did not start
            try:  # wakes as soon as the child exits, rather than at the next interval
                process.wait(timeout=interval) if process else time.sleep(interval)
            except subprocess.TimeoutExpired:
                pass

    # --- background polling in the app -------------------------------------------

    def start_polling(self, interval: float = 2.0) -> None:
        self.reattach()

        def loop():
            while not self._stop.wait(interval):
                try:
                    self.poll()
                except Exception as error:  # a poll failure must not kill the thread; the next one retries
                    print(f"ftstudio: polling runs failed: {error}", file=sys.stderr)

        self._thread = threading.Thread(target=loop, name="ftstudio-runs", daemon=True)
        self._thread.start()

    def stop_polling(self) -> None:
        self._stop.set()
