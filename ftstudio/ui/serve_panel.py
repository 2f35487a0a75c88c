"""The Train tab's "Serve this run" panel: start or stop an OpenAI-compatible server of a finished run (a child
process of the app), and copy its URL and a `curl` or `openai` snippet that calls it."""

from __future__ import annotations

import atexit

import gradio as gr

from ftstudio.config import Settings
from ftstudio.evaluation.systems import EvaluationError, run_label
from ftstudio.models import ModelError
from ftstudio.shipping.process import Servers, ServingError, client_snippets
from ftstudio.shipping.server import DEFAULT_PORT
from ftstudio.store import Store
from ftstudio.ui.format import message
from ftstudio.ui.handlers import Guard

SERVE_HELP = ("Serves the base model as `base` and every finished run of the same base model as `run-N`, from one "
              "loaded copy of the base model, on this machine only (127.0.0.1). Prompts use each run's own template "
              "and system prompt, so greedy answers equal the review's. From a terminal: `ftstudio serve-model "
              "--run N`; to share it beyond this machine, see \u201cServe\u201d in the README (put it behind a key).")


def create_serve_panel(app: gr.Blocks, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown) -> None:
    servers = Servers(settings.home)
    atexit.register(servers.stop_all)  # a server outlives no app
    with gr.Accordion("Serve this run", open=False, elem_id="serve-panel"):
        gr.Markdown(SERVE_HELP)
        with gr.Row():
            run_pick = gr.Dropdown([], label="Finished run", allow_custom_value=True, elem_id="serve-run", scale=3)
            port = gr.Number(DEFAULT_PORT, label="Port", precision=0, elem_id="serve-port", scale=1)
            start = gr.Button("Start serving", variant="primary", elem_id="serve-start", scale=1)
            stop = gr.Button("Stop", elem_id="serve-stop", scale=1)
        status = gr.Markdown(elem_id="serve-status")
        curl = gr.Code(language="shell", label="curl", interactive=False, elem_id="serve-curl",
                       visible=False)
        python = gr.Code(language="python", label="openai (Python)", interactive=False, elem_id="serve-python",
                         visible=False)

    # The snippets show only while a run is served: empty code boxes would read as something broken.
    hidden_snippets = {curl: gr.update(value="", visible=False), python: gr.update(value="", visible=False)}

    def shown(server, run, note: str = ""):
        snippets = client_snippets(server.url, run.system)
        text = f"Serving at {server.url} \u00b7 models: {', '.join(server.models)}. {note}".strip()
        return {status: message(text, "ok"), curl: gr.update(value=snippets["curl"], visible=True),
                python: gr.update(value=snippets["python"], visible=True)}

    def chosen_run(picked, run_value):
        run = store.find_run(str(run_value), picked.id) if picked and run_value not in (None, "") else None
        if run is None:
            raise ServingError("Pick one of this project's finished runs to serve.")
        return run

    def on_start(picked, run_value, port_value):
        try:
            run = chosen_run(picked, run_value)
            server = servers.start(store, run, int(port_value or DEFAULT_PORT))
        except (ServingError, EvaluationError, ModelError) as error:
            return {status: message(str(error), "error"), **hidden_snippets}
        return shown(server, run)

    def on_stop(picked, run_value):
        try:
            run = chosen_run(picked, run_value)
        except ServingError as error:
            return {status: message(str(error), "error"), **hidden_snippets}
        said = f"Stopped serving run {run.id}." if servers.stop(run.id) else f"Run {run.id} was not being served."
        return {status: message(said, "info"), **hidden_snippets}

    def on_project(picked, run_value):
        runs = store.list_runs(picked.id, ("finished",)) if picked else []
        choices = [(run_label(run), str(run.id)) for run in runs]
        values = [value for _, value in choices]
        chosen = run_value if run_value in values else (values[0] if values else None)
        running = servers.get(int(chosen)) if chosen else None
        updates = {run_pick: gr.update(choices=choices, value=chosen)}
        if running is not None:
            return updates | shown(running, store.get_run(int(chosen)))
        return updates | {status: "" if runs else message("No finished run yet: train one above.", "info")}

    outputs = [status, curl, python]
    start.click(guard("train", on_start), [project, run_pick, port], outputs, api_name="serve_run",
                concurrency_limit=1, concurrency_id="serving")
    stop.click(guard("train", on_stop), [project, run_pick], outputs, api_name="stop_serving",
               concurrency_limit=1, concurrency_id="serving")
    project.change(guard("view", on_project, quiet=True), [project, run_pick], [run_pick, *outputs],
                   api_visibility="undocumented")
    app.load(guard("view", on_project, quiet=True), [project, run_pick], [run_pick, *outputs],
             api_visibility="undocumented")
