"""Build the Gradio app from a store and settings, and serve it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ftstudio.config import Settings
from ftstudio.store import Store, open_store, write_app_marker
from ftstudio.ui.data_tab import create_data_tab
from ftstudio.ui.model_tab import BaseModelHolder, create_model_tab

CSS_PATH = Path(__file__).resolve().parent.parent.parent / "assets" / "style.css"


def build_app(store: Store, settings: Settings) -> gr.Blocks:
    """The whole app; everything it needs comes in as arguments (Gradio shares module globals between users)."""
    holder = BaseModelHolder(settings)
    with gr.Blocks(title="ftstudio") as app:
        gr.Markdown("# ftstudio\nYour posts and emails → a fine-tuned model, and the evidence that it is better.",
                    elem_id="masthead")
        with gr.Tabs():
            with gr.Tab("Data", id="data"):
                project, refresh_projects, browse, browse_inputs, browse_outputs = create_data_tab(store, settings)
            with gr.Tab("Model", id="model"):
                create_model_tab(settings, holder)
        # Each page load sees the projects created since the app started (by the CLI's import, other users).
        app.load(refresh_projects, project, project, api_visibility="undocumented").then(
            browse, browse_inputs, browse_outputs, api_visibility="undocumented")
    return app


def launch_kwargs(settings: Settings) -> dict:
    return {
        "theme": gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        "css_paths": [CSS_PATH] if CSS_PATH.exists() else None,
        "max_file_size": settings.ingest.max_file_bytes,
        "footer_links": ["api", "settings"],
    }


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Open the studio database (this process becomes its only writer) and serve the app."""
    settings.ensure_dirs()
    store = open_store(settings.database_path)
    app = build_app(store, settings)
    write_app_marker(settings.home, f"http://{host}:{port}")
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block,
               **launch_kwargs(settings))
    return app, store
