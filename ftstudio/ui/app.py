"""Build the Gradio app from a store and settings, and serve it."""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from pathlib import Path

import gradio as gr

from ftstudio.access import AccessPolicy
from ftstudio.config import Settings
from ftstudio.snapshots import SnapshotSchedule, restore_latest, target_from_spec
from ftstudio.store import Store, open_store, write_app_marker
from ftstudio.ui.classification_view import create_classification_results, create_classifier_panel
from ftstudio.ui.data_tab import create_data_tab
from ftstudio.generation import BaseModel
from ftstudio.ui.datasets_tab import create_datasets_tab
from ftstudio.ui.handlers import Guard, unguarded_handlers
from ftstudio.ui.header import create_header, show_tabs_by_role
from ftstudio.ui.judge_tab import create_judge_tab
from ftstudio.ui.label_tab import create_label_tab
from ftstudio.ui.model_tab import create_model_tab
from ftstudio.ui.results_tab import create_results_tab
from ftstudio.ui.draft_results import create_draft_results
from ftstudio.ui.review_tab import create_review_tab
from ftstudio.ui.serve_panel import create_serve_panel
from ftstudio.ui.shortcuts import HEAD_JS
from ftstudio.ui.team_queue import lighter_queue_analytics
from ftstudio.ui.train_tab import create_train_tab
from ftstudio.training.manager import RunManager

CSS_PATH = Path(__file__).resolve().parent.parent.parent / "assets" / "style.css"
LOGIN_MESSAGE = ("<h1 id='login-title' style='font-size: 1.8em; font-weight: 700; margin: 0 0 0.4em'>ftstudio</h1>"
                 "<p>Your posts and emails \u2192 a fine-tuned model, and the evidence that it is better.</p>"
                 "<p>Sign in with the name and password your studio admin gave you.</p>")


def build_app(store: Store, settings: Settings, manager: RunManager | None = None,
              load_model_now: bool = True, policy: AccessPolicy | None = None) -> gr.Blocks:
    """The whole app; everything it needs comes in as arguments (Gradio shares module globals between users)."""
    policy = policy or AccessPolicy.from_environment()
    guard = Guard(store, policy)
    base_model = BaseModel(settings)
    if load_model_now:
        base_model.load_in_background()  # the first draft should not wait for it
    manager = manager or RunManager(store, settings, lambda: base_model.tokenizer)
    with gr.Blocks(title="ftstudio") as app:
        gr.Markdown("# ftstudio\nYour posts and emails → a fine-tuned model, and the evidence that it is better.",
                    elem_id="masthead")
        project, user = create_header(app, store, guard, settings)
        with gr.Tabs():
            with gr.Tab("Data", id="data", elem_id="data-tab") as data_tab:
                create_data_tab(app, store, guard, settings, project)
            with gr.Tab("Label", id="label", elem_id="label-tab") as label_tab:
                create_label_tab(app, label_tab, store, guard, base_model, project, user, settings)
            with gr.Tab("Datasets", id="datasets", elem_id="datasets-tab") as datasets_tab:
                create_datasets_tab(app, datasets_tab, store, guard, settings, base_model, project)
            with gr.Tab("Train", id="train", elem_id="train-tab") as train_tab:
                create_train_tab(app, train_tab, store, guard, settings, manager, project)
                create_classifier_panel(app, store, guard, settings, manager, project)
                create_serve_panel(app, store, guard, settings, project)
            with gr.Tab("Review", id="review", elem_id="review-tab") as review_tab:
                create_review_tab(app, review_tab, store, guard, settings, project, user)
            with gr.Tab("Judge", id="judge", elem_id="judge-tab") as judge_tab:
                create_judge_tab(app, judge_tab, store, guard, settings, project, user)
            with gr.Tab("Results", id="results", elem_id="results-tab") as results_tab:
                create_results_tab(app, results_tab, store, guard, settings, project)
                create_classification_results(app, store, guard, project)
                create_draft_results(app, results_tab, store, guard, project)
            with gr.Tab("Model", id="model", elem_id="model-tab") as model_tab:
                create_model_tab(guard, settings, base_model)
        show_tabs_by_role(app, guard, {"data": data_tab, "label": label_tab, "datasets": datasets_tab,
                                       "train": train_tab, "review": review_tab, "judge": judge_tab,
                                       "results": results_tab, "model": model_tab})
    missing = unguarded_handlers(app)
    if missing:  # a handler that skips the role check is a hole any API caller can use
        raise RuntimeError(f"Handlers without a role check: {', '.join(missing)}")
    return app


def launch_kwargs(settings: Settings, policy: AccessPolicy | None = None) -> dict:
    policy = policy or AccessPolicy.from_environment()
    return {
        "theme": gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        "css_paths": [CSS_PATH] if CSS_PATH.exists() else None,
        "max_file_size": settings.ingest.max_file_bytes,
        "footer_links": ["api", "settings"],
        "head": HEAD_JS,
        # Exports are the only studio files the browser may download; the database, run folders, secrets and
        # the users file never are, even if a path to them leaks into a component.
        "allowed_paths": [str(settings.home / "exports")],
        "blocked_paths": [str(p) for p in (settings.database_path, settings.runs_dir, settings.model_cache,
                                           settings.home / "secrets.json", settings.home / ".browser-secret")]
                         + ([str(policy.book.path)] if policy.book else []),
        "auth": policy.check_password if policy.mode == "password" else None,
        # Gradio's login page shows this (as HTML) and nothing else of the app: it carries the studio's title.
        "auth_message": LOGIN_MESSAGE,
    }


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
          policy: AccessPolicy | None = None):
    """Open the studio database (this process becomes its only writer) and serve the app.

    Returns (app, store, run manager) once the server stops, or at once when `block` is False.
    """
    target = target_from_spec(settings.snapshot_target)
    if target is not None:
        restored = restore_latest(settings, target)  # only into a studio with no database yet
        if restored:
            print(f"Restored the studio from snapshot {restored}.", flush=True)
    settings.ensure_dirs()
    store = open_store(settings.database_path)
    manager = RunManager(store, settings)
    if target is not None:
        schedule = SnapshotSchedule(store, settings, target, settings.snapshot_interval).start()
        atexit.register(schedule.stop)
        # Spaces stop a container with SIGTERM: turn it into a normal exit so the last snapshot is taken.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    manager.start_polling()  # also re-attaches to runs still alive and marks dead ones interrupted
    policy = policy or AccessPolicy.from_environment()
    app = build_app(store, settings, manager, policy=policy)
    write_app_marker(settings.home, f"http://{host}:{port}")
    lighter_queue_analytics()
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block,
               **launch_kwargs(settings, policy))
    return app, store, manager
