"""Many people in one studio at once: simulated labelers and reviewers against a running app, over its HTTP API.

Each simulated person is its own gradio_client session (its own leases, its own blind pairs). Labelers load the
next item and accept it; reviewers load the next blind pair and vote. Every write the app acknowledged is
counted, so afterwards the database can be checked: each acknowledged write is there, and none twice. Used by
tests/test_load.py (with a kill in the middle) and by `ftstudio bench load` (p95 with and without a training run
and a generation batch in progress).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ftstudio.config import Settings
from ftstudio.store import open_store

POSTS = "load-posts"
REVIEWS = "load-review"


def seed_studio(settings: Settings, items: int = 1500, prompts: int = 300, reviewers_per_pair: int = 8) -> dict:
    """A project of posts to label and a finished run's review of `prompts` blind pairs (answers stored, so no
    model is needed to vote)."""
    from ftstudio.evaluation.review import sync_pairs
    from ftstudio.evaluation.systems import run_system_name
    from ftstudio.importing import import_paths

    settings.ensure_dirs()
    store = open_store(settings.database_path)
    try:
        posts = store.create_project(POSTS, "generation")
        source = settings.home / "load-posts.md"
        source.write_text("\n---\n".join(f"Post {n}: what we learned shipping feature {n} to {n % 17} teams."
                                          for n in range(items)))
        import_paths(store, posts, [source])
        project = store.create_project(REVIEWS, "generation")
        run_dir = settings.runs_dir / "load-run"
        run_dir.mkdir(parents=True, exist_ok=True)
        run_id = store.create_run(project.id, None, "load-run", "none", "lora", {}, str(run_dir), None, "finished")
        system = run_system_name(run_id)
        rows = [{"project_id": project.id, "cache_key": f"{who}-{n}", "settings_key": "load", "item_key": f"p:{n}",
                 "system": who, "input": f"Reply to message {n}.", "prompt": f"Reply to message {n}.",
                 "settings": {}, "metadata": {}, "output": f"{who} answer {n}: thanks, we will look into it."}
                for who in (system, "base") for n in range(prompts)]
        store.add_generations(rows)
        review = store.create_review(project.id, run_id, [system, "base"], "load", overlap=reviewers_per_pair)
        sync_pairs(store, review)
        return {"run_id": run_id, "review_id": review.id, "items": items, "pairs": prompts}
    finally:
        store.close()


@dataclass
class AppProcess:
    """The app in a child process of its own, so that it can be killed as a crash would."""

    home: Path
    base_model: str
    port: int
    process: subprocess.Popen | None = None
    log: Path | None = None
    env: dict = field(default_factory=dict)  # more environment for the app (FTSTUDIO_TEAM_SLOTS for the baseline)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 120) -> "AppProcess":
        self.log = self.home / f"app-{int(time.time() * 1000)}.log"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "FTSTUDIO_HOME": str(self.home)}
        env.pop("FTSTUDIO_USERS", None)
        env.pop("FTSTUDIO_TEAM_SLOTS", None)
        env.update(self.env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ftstudio", "--home", str(self.home), "--base-model", self.base_model, "serve",
             "--port", str(self.port)], stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The app exited at start ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "gradio_api/info", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"The app did not answer within {timeout:.0f} s: {self.log.read_text()[-2000:]}")

    def wait_until_idle(self, timeout: float = 180, below_percent: float = 15) -> float:
        """Until the app's start-up work (loading the base model in the background) is over, so that it is not
        measured as the cost of serving people; returns the seconds waited."""
        import psutil

        started = time.monotonic()
        process = psutil.Process(self.process.pid)
        process.cpu_percent(None)
        quiet = 0
        while time.monotonic() - started < timeout and quiet < 3:
            time.sleep(1)
            quiet = quiet + 1 if process.cpu_percent(None) < below_percent else 0
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash or an out-of-memory kill."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Tally:
    """What one simulated person did: latencies of every call, writes acknowledged, errors seen."""

    name: str
    role: str
    latencies: list[float] = field(default_factory=list)
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)
    disconnected: bool = False
    opened: float | None = None  # seconds to open the session: the client's start and its first item or pair


class HttpPerson:
    """One person's session over Gradio's HTTP API, speaking it as the page does, with the session's id (the
    session keeps the item or pair on screen, as a browser tab does): an event that skips the queue
    (`queue=False`) is one POST to /gradio_api/run/NAME answered in the reply; a queued one is a POST to
    /gradio_api/call/NAME, then its answer as server-sent events. Lighter than gradio_client: its threads,
    heartbeat and stream reader took about twice the app's own CPU per call, on the same cores as the app, where a
    team's browsers would cost the app nothing."""

    def __init__(self, url: str, endpoints: dict[str, "Endpoint"], timeout: float = 120):
        import uuid

        self.http = httpx.Client(base_url=url + "gradio_api/", timeout=timeout)
        self.session, self.endpoints = uuid.uuid4().hex, endpoints

    @staticmethod
    def api_outputs(url: str) -> dict[str, "Endpoint"]:
        """Per endpoint: whether it is queued, which inputs and outputs an API caller sees (not States, rows or
        columns), from the app's config, read once: answers then come in gradio_client's order."""
        config = httpx.get(url + "config", timeout=120).json()
        skipped = {c["id"]: c.get("skip_api", c.get("type") in ("state", "row", "column", "group", "tab", "tabs",
                                                                   "accordion", "form"))
                   for c in config["components"]}
        queued_by_default = config.get("enable_queue", True)
        return {"/" + d["api_name"]: Endpoint(
                    queued=queued_by_default if d.get("queue") is None else bool(d["queue"]),
                    inputs=[not skipped.get(i, True) for i in d["inputs"]],
                    outputs=[not skipped.get(o, True) for o in d["outputs"]])
                for d in config["dependencies"] if d.get("api_name")}

    def predict(self, *args, api_name: str) -> list:
        endpoint = self.endpoints[api_name]
        return endpoint.answer(self._queued(args, api_name) if endpoint.queued
                               else self._direct(args, endpoint, api_name))

    def _direct(self, args, endpoint: "Endpoint", api_name: str) -> list:
        """As the page sends an event that skips the queue: every input, None for the session's States."""
        values = iter(args)
        data = [next(values) if shown else None for shown in endpoint.inputs]
        response = self.http.post(f"run{api_name}", json={"data": data, "session_hash": self.session})
        if response.status_code != 200:
            raise RuntimeError(f"The app answered {api_name} with {response.status_code}: {response.text[:300]}")
        return [_value(value) for value in response.json()["data"]]

    def _queued(self, args, api_name: str) -> list:
        response = self.http.post(f"call{api_name}", json={"data": list(args), "session_hash": self.session})
        response.raise_for_status()
        event, answer = None, f"call{api_name}/{response.json()['event_id']}"
        with self.http.stream("GET", answer) as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.removeprefix("data:"))
                    if event == "error":
                        raise RuntimeError(f"The app answered {api_name} with an error: {data}")
                    return data
        raise RuntimeError(f"The app closed {api_name}'s answer without one.")

    def close(self) -> None:
        self.http.close()


def _value(output):
    """An output as the API's simple format gives it: an update's value, or the value itself."""
    if isinstance(output, dict) and output.get("__type__") == "update":
        return output.get("value")
    return output


@dataclass
class Endpoint:
    queued: bool
    inputs: list[bool]  # per input: does an API caller send it (States are the session's own)
    outputs: list[bool]  # per output: does an API caller see it

    def answer(self, data: list) -> list:
        """Only what an API caller sees, in gradio_client's order."""
        return [value for value, shown in zip(data, self.outputs) if shown]


class _Start:
    """Everyone opens their session (a page load: Gradio builds the session's state then) before the clock
    starts, so that per-call figures are those of labeling and voting, and the opening is reported apart."""

    def __init__(self, people: int):
        self.people, self.ready, self.go, self.lock = people, set(), threading.Event(), threading.Lock()
        self.began = time.perf_counter()

    def arrived(self, name: str, timeout: float = 300) -> None:
        with self.lock:
            self.ready.add(name)
        self.go.wait(timeout)

    def wait_for_everyone(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ready) < self.people and time.monotonic() < deadline:
            time.sleep(0.05)
        self.go.set()


def _labeler(client, tally: Tally, stop: threading.Event, start: _Start) -> None:
    def call(*args, api_name):
        started = time.perf_counter()
        result = client.predict(*args, api_name=api_name)
        tally.latencies.append(time.perf_counter() - started)
        return result

    shown = client.predict(POSTS, tally.name, api_name="/next_item")
    tally.opened = time.perf_counter() - start.began
    start.arrived(tally.name)
    while not stop.is_set():
        if not shown[0]:  # "About this item": empty when nothing is left for this person
            shown = call(POSTS, tally.name, api_name="/next_item")
            time.sleep(0.2)
            continue
        shown = call(POSTS, tally.name, f"idea from {tally.name}", "the post, as the author wrote it", None,
                     api_name="/accept")
        notice = shown[5]
        if "Saved as accepted" in notice:
            tally.acknowledged += 1
        elif "⚠" in notice:
            tally.errors.append(notice)


def _reviewer(client, run_id: int, tally: Tally, stop: threading.Event, start: _Start) -> None:
    def call(*args, api_name):
        started = time.perf_counter()
        result = client.predict(*args, api_name=api_name)
        tally.latencies.append(time.perf_counter() - started)
        return result

    shown = client.predict(REVIEWS, str(run_id), tally.name, api_name="/next_pair")
    tally.opened = time.perf_counter() - start.began
    start.arrived(tally.name)
    while not stop.is_set():
        if not shown[0]:  # no pair on screen: nothing left for this person
            time.sleep(0.2)
            shown = call(REVIEWS, str(run_id), tally.name, api_name="/next_pair")
            continue
        shown = call(REVIEWS, str(run_id), tally.name, None, None, "", api_name="/vote_a")
        if "Previous pair" in shown[8]:
            tally.acknowledged += 1
        elif "⚠" in shown[8]:
            tally.errors.append(shown[8])


def simulate_users(url: str, run_id: int, seconds: float, users: int = 16, ends_app=None) -> list[Tally]:
    """Half label, half vote, each in its own session, for `seconds`. With `ends_app(tallies)`, polled meanwhile,
    the app is ended in the middle of their work: once it returns True, the people stop and calls that fail
    after it count as disconnected, not as errors."""
    stop, ended, start = threading.Event(), threading.Event(), _Start(users)
    tallies = [Tally(f"{'labeler' if n % 2 == 0 else 'reviewer'}-{n}", "label" if n % 2 == 0 else "review")
               for n in range(users)]

    shown = HttpPerson.api_outputs(url)

    def person(tally: Tally) -> None:
        client = HttpPerson(url, shown)
        try:
            if tally.role == "label":
                _labeler(client, tally, stop, start)
            else:
                _reviewer(client, run_id, tally, stop, start)
        except Exception as error:  # noqa: BLE001 - a refused connection after the kill, or a real error
            if stop.is_set() or ended.is_set() or ends_app is not None:
                tally.disconnected = True
            else:
                tally.errors.append(f"{type(error).__name__}: {error}")
        finally:
            client.close()
            start.arrived(tally.name, timeout=0)  # one who could not open does not hold the others back

    threads = [threading.Thread(target=person, args=(t,), daemon=True) for t in tallies]
    for thread in threads:
        thread.start()
    start.wait_for_everyone()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ends_app is not None and ends_app(tallies):
            ended.set()
            break
        time.sleep(0.05)
    stop.set()
    # One deadline for all: after a kill, a client may keep retrying a dead server; its call was never answered.
    deadline = time.monotonic() + (10 if ended.is_set() else 60)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return tallies


def written_counts(settings: Settings, run_id: int) -> dict[str, int]:
    """Per person, the labels and votes the database holds (opened after the app has stopped)."""
    store = open_store(settings.database_path)
    try:
        cursor = store.cursor()
        labels = dict(cursor.execute("SELECT created_by, count(*) FROM examples GROUP BY created_by").fetchall())
        votes = dict(cursor.execute("SELECT rater, count(*) FROM ratings GROUP BY rater").fetchall())
        twice = cursor.execute("SELECT count(*) FROM (SELECT item_id, created_by FROM examples "
                               "WHERE item_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0]
        twice += cursor.execute("SELECT count(*) FROM (SELECT pair_id, rater FROM ratings GROUP BY 1, 2 "
                                "HAVING count(*) > 1)").fetchone()[0]
        return {**{k: v for k, v in labels.items() if k}, **votes, "__twice__": twice}
    finally:
        store.close()


def percentiles(tallies: list[Tally]) -> dict:
    import numpy as np

    latencies = [x for t in tallies for x in t.latencies]
    if not latencies:
        return {"calls": 0, "p50_ms": None, "p95_ms": None}
    p50, p95 = np.percentile(latencies, [50, 95])
    return {"calls": len(latencies), "p50_ms": round(float(p50) * 1000, 1), "p95_ms": round(float(p95) * 1000, 1)}


def summary(tallies: list[Tally], seconds: float) -> dict:
    labels = sum(t.acknowledged for t in tallies if t.role == "label")
    votes = sum(t.acknowledged for t in tallies if t.role == "review")
    opened = sorted(t.opened for t in tallies if t.opened is not None)
    return {**percentiles(tallies), "seconds": seconds, "users": len(tallies), "labels": labels, "votes": votes,
            "writes_per_second": round((labels + votes) / seconds, 1) if seconds else None,
            "errors": sum(len(t.errors) for t in tallies),
            "slowest_session_open_ms": round(opened[-1] * 1000) if opened else None}


def _log(message: str) -> None:
    print(f"[bench load] {message}", file=sys.stderr, flush=True)


def seed_heavy_work(settings: Settings, model_path: str, prompts: int = 96) -> dict:
    """A frozen version to train on, and a finished run (random adapter) whose test prompts to generate for."""
    from datetime import datetime

    from ftstudio.bench.generate import random_adapter
    from ftstudio.importing import import_paths
    from ftstudio.templates import Template
    from ftstudio.training.config import TrainConfig
    from ftstudio.training.folders import write_status
    from ftstudio.training.manager import RunManager
    from ftstudio.versions import SplitPlan, freeze_version

    store = open_store(settings.database_path)
    try:
        project = store.create_project("load-train", "generation")
        pairs = settings.home / "load-pairs.jsonl"
        pairs.write_text("\n".join(json.dumps({"question": f"Where is pallet {n}?", "response": f"In depot {n % 7}, "
                                               f"row {n % 11}; it ships on day {n % 5}."}) for n in range(2 * prompts)))
        import_paths(store, project, [pairs])
        version = freeze_version(store, project, Template("chat"), SplitPlan((0.5, 0.0, 0.5)))
        settings.base_model = model_path
        run_id = RunManager(store, settings).create_run(project, version.name, TrainConfig(max_steps=1),
                                                        check_memory=False, queue=False)
        run = store.get_run(run_id)
        random_adapter(model_path, Path(run.run_dir) / "adapter", seed=run_id)
        write_status(Path(run.run_dir), "finished", step=1, max_steps=1)
        store.update_run(run_id, status="finished", step=1, max_steps=1, finished_at=datetime.now())
        return {"project": project.name, "version": version.name, "finished_run": run_id}
    finally:
        store.close()


def _start_heavy_work(url: str, heavy: dict) -> tuple[list[str], "_BackgroundCall"]:
    """Through the app's API, as an admin would: a long training run, and answers for a finished run's test split.
    The admin's gradio_client session is closed once the run has started and the generation request is followed
    by a plain HTTP person, as the people are: gradio_client's threads (heartbeat, stream reader) would otherwise
    run in this process for the whole busy phase, on the app's cores, beside the sixteen people."""
    from gradio_client import Client

    from ftstudio.evaluation.systems import run_system_name

    admin = Client(url, verbose=False)
    try:
        parameters = admin.view_api(print_info=False, return_format="dict")["named_endpoints"]["/train"]["parameters"]
        values = [p.get("parameter_default") for p in parameters]
        values[:4] = [heavy["project"], heavy["version"], "sft", "lora"]
        for index, parameter in enumerate(parameters):
            if parameter.get("label") == "max steps":
                values[index] = 100_000  # runs through the whole measurement; cancelled after it
        notice, _ = admin.predict(*values, api_name="/train")
    finally:
        admin.close()
    generation = HttpPerson(url, HttpPerson.api_outputs(url))
    # As the page does: picking the run fills the session's system choices that the request is checked against.
    generation.predict(heavy["project"], str(heavy["finished_run"]), api_name="/on_run")
    job = _BackgroundCall(generation, heavy["project"], str(heavy["finished_run"]),
                          [run_system_name(heavy["finished_run"]), "base"], "test", "", None, 64, 0.7, 0.9, 0, 1,
                          "bench", api_name="/generate_answers")
    return [notice], job


class _BackgroundCall:
    """One person's call followed to its answer in a thread of its own (a long one: generating answers)."""

    def __init__(self, person: HttpPerson, *args, api_name: str):
        self.answer, self.error = None, None
        self.thread = threading.Thread(target=self._run, args=(person, args, api_name), daemon=True)
        self.thread.start()

    def _run(self, person: HttpPerson, args, api_name: str) -> None:
        try:
            self.answer = person.predict(*args, api_name=api_name)
        except Exception as error:  # noqa: BLE001 - reported in the bench's JSON (_job_state)
            self.error = f"{type(error).__name__}: {str(error)[:200]}"


def _job_state(job: _BackgroundCall) -> str:
    """The generation job's state after the busy phase, with its error if it failed (a refused request would
    otherwise leave a busy phase with training only, looking like both)."""
    if job.thread.is_alive():
        return "running"
    return f"failed: {job.error}" if job.error else f"finished: {str(job.answer)[:200]}"


def _wait_for_training_steps(settings: Settings, before: set, timeout: float = 300) -> None:
    """Until the new training child logs its first step: measuring before it has loaded would flatter the figure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for log in settings.runs_dir.glob("*/metrics.jsonl"):
            if log.parent.name not in before and '"loss"' in log.read_text():
                return
        time.sleep(1)
    raise RuntimeError(f"The training run logged no step within {timeout:.0f} s.")


def _stop_children(app: "AppProcess", settings: Settings, timeout: float = 30) -> bool:
    """Cancel the bench's training run and generation batch, and see their processes gone: a run outlives the app
    that started it (it re-attaches on the next start), so its 100,000 steps would otherwise go on using the
    machine after the bench, under any measurement that follows. Asked to stop first (a cancel request in each
    run folder), killed if they have not within `timeout` seconds."""
    import psutil

    from ftstudio.child_process import request_cancel

    try:
        children = psutil.Process(app.process.pid).children(recursive=True)
    except psutil.Error:
        return True
    for parent in (settings.runs_dir, settings.home / "generations"):  # where runs and generation jobs work
        for folder in [p for p in parent.glob("*") if p.is_dir()]:
            request_cancel(folder)
    app.stop()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    return not alive


def _heavy_progress(settings: Settings, heavy: dict) -> dict:
    """How far the training run and the generation batch got while people worked (so the figure is honest)."""
    store = open_store(settings.database_path)
    try:
        project = store.find_project(heavy["project"])
        runs = [r for r in store.list_runs(project.id) if r.id != heavy["finished_run"]]
        answers = store.cursor().execute("SELECT count(*) FROM generations WHERE project_id = ?",
                                         [project.id]).fetchone()[0]
        return {"training_steps_done": max((r.step or 0 for r in runs), default=0), "answers_generated": answers}
    finally:
        store.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_load(seconds: float = 30, users: int = 16, model: str | None = None, cache: str | None = None) -> dict:
    """p50/p95 of labeling and voting calls with `users` people at once: first against the baseline (the same app
    with one queue slot for every write, as before issue 25: FTSTUDIO_TEAM_SLOTS=1), then against the studio as
    it ships, alone and while a training run and a generation batch (child processes of the app) are in
    progress. All three on one database, one after the other."""
    import tempfile

    from ftstudio.bench.train import embedded_model_path

    model_path = model or embedded_model_path(cache)
    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-load-") as folder:
        settings = Settings(home=Path(folder) / "studio")
        # Enough items and pairs that nobody runs out in three phases (a person with nothing left would only poll).
        info = seed_studio(settings, items=4000, prompts=600)
        heavy = seed_heavy_work(settings, model_path)
        baseline_app = AppProcess(settings.home, model_path, _free_port(), env={"FTSTUDIO_TEAM_SLOTS": "1"}).start()
        try:
            baseline_app.wait_until_idle()
            _log(f"baseline (one write slot): {users} people labeling and voting for {seconds:.0f} s")
            baseline = simulate_users(baseline_app.url, info["run_id"], seconds, users)
        finally:
            baseline_app.stop()
        app = AppProcess(settings.home, model_path, _free_port()).start()
        try:
            app.wait_until_idle()
            _log(f"studio as it ships: {users} people labeling and voting for {seconds:.0f} s, "
                 "nothing else running")
            alone = simulate_users(app.url, info["run_id"], seconds, users)
            _log("the same, with a training run and a generation batch in progress")
            before = {p.name for p in settings.runs_dir.iterdir()}
            notes, generation = _start_heavy_work(app.url, heavy)
            _wait_for_training_steps(settings, before)
            busy = simulate_users(app.url, info["run_id"], seconds, users)
            generating = _job_state(generation)
        finally:
            stopped = _stop_children(app, settings)
        done = _heavy_progress(settings, heavy)
        result = {"benchmark": "load", "users": users, "seconds": seconds,
                  "baseline_one_write_slot": summary(baseline, seconds),
                  "alone": summary(alone, seconds), "with_training_and_generation": summary(busy, seconds),
                  "training_started": notes[0][:120], "generation_job": generating, **done,
                  "children_stopped_by_themselves": stopped,
                  "cpu_count": os.cpu_count()}
        base_p95, alone_p95, busy_p95 = (result[k]["p95_ms"] for k in ("baseline_one_write_slot", "alone",
                                                                       "with_training_and_generation"))
        result["p95_ratio"] = round(busy_p95 / alone_p95, 2) if alone_p95 and busy_p95 else None
        result["p95_speedup_over_baseline"] = round(base_p95 / alone_p95, 2) if base_p95 and alone_p95 else None
        result["goals_met"] = {"p95_at_most_300_ms": bool(alone_p95 and alone_p95 <= 300),
                               "at_least_40_writes_per_second": result["alone"]["writes_per_second"] >= 40,
                               "no_errors": not (result["alone"]["errors"] or result["with_training_and_generation"]["errors"]),
                               "busy_p95_at_most_1_5x": bool(result["p95_ratio"] and result["p95_ratio"] <= 1.5)}
        return result
