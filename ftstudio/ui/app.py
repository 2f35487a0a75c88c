"""Build the Gradio app from a store and settings, and serve it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ftstudio.config import Settings
from ftstudio.store import Store, open_store, write_app_marker
from ftstudio.ui.classification_view import create_classification_results, create_classifier_panel
from ftstudio.ui.data_tab import create_data_tab
from ftstudio.generation import BaseModel
from ftstudio.ui.datasets_tab import create_datasets_tab
from ftstudio.ui.header import create_header
from ftstudio.ui.judge_tab import create_judge_tab
from ftstudio.ui.label_tab import create_label_tab
from ftstudio.ui.model_tab import create_model_tab
from ftstudio.ui.results_tab import create_results_tab
from ftstudio.ui.review_tab import create_review_tab
from ftstudio.ui.shortcuts import HEAD_JS
from ftstudio.ui.train_tab import create_train_tab
from ftstudio.training.manager import RunManager

CSS_PATH = Path(__file__).resolve().parent.parent.parent / "assets" / "style.css"


def build_app(store: Store, settings: Settings, manager: RunManager | None = None,
              load_model_now: bool = True) -> gr.Blocks:
    """The whole app; everything it needs comes in as arguments (Gradio shares module globals between users)."""
    base_model = BaseModel(settings)
    if load_model_now:
        base_model.load_in_background()  # the first draft should not wait for it
    manager = manager or RunManager(store, settings, lambda: base_model.tokenizer)
    with gr.Blocks(title="ftstudio") as app:
        gr.Markdown("# ftstudio\nYour posts and emails → a fine-tuned model, and the evidence that it is better.",
                    elem_id="masthead")
        project, user = create_header(app, store, settings)
        with gr.Tabs():
            with gr.Tab("Data", id="data"):
                create_data_tab(app, store, settings, project)
            with gr.Tab("Label", id="label", elem_id="label-tab") as label_tab:
                create_label_tab(app, label_tab, store, base_model, project, user)
            with gr.Tab("Datasets", id="datasets", elem_id="datasets-tab") as datasets_tab:
                create_datasets_tab(app, datasets_tab, store, settings, base_model, project)
            with gr.Tab("Train", id="train", elem_id="train-tab") as train_tab:
                create_train_tab(app, train_tab, store, settings, manager, project)
                create_classifier_panel(app, store, settings, manager, project)
            with gr.Tab("Review", id="review", elem_id="review-tab") as review_tab:
                create_review_tab(app, review_tab, store, settings, project, user)
            with gr.Tab("Judge", id="judge", elem_id="judge-tab") as judge_tab:
                create_judge_tab(app, judge_tab, store, settings, project, user)
            with gr.Tab("Results", id="results", elem_id="results-tab") as results_tab:
                create_results_tab(app, results_tab, store, settings, project)
                create_classification_results(app, store, project)
            with gr.Tab("Model", id="model"):
                create_model_tab(settings, base_model)
    return app


def launch_kwargs(settings: Settings) -> dict:
    return {
        "theme": gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        "css_paths": [CSS_PATH] if CSS_PATH.exists() else None,
        "max_file_size": settings.ingest.max_file_bytes,
        "footer_links": ["api", "settings"],
        "head": HEAD_JS,
        # Exports are the only studio files the browser may download.
        "allowed_paths": [str(settings.home / "exports")],
    }


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Open the studio database (this process becomes its only writer) and serve the app.

    Returns (app, store, run manager) once the server stops, or at once when `block` is False.
    """
    settings.ensure_dirs()
    store = open_store(settings.database_path)
    manager = RunManager(store, settings)
    manager.start_polling()  # also re-attaches to runs still alive and marks dead ones interrupted
    app = build_app(store, settings, manager)
    write_app_marker(settings.home, f"http://{host}:{port}")
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block,
               **launch_kwargs(settings))
    return app, store, manager
