"""The bar above the tabs: which project every tab works on, and who is working (kept in this browser)."""

from __future__ import annotations

import secrets

import gradio as gr

from ftstudio.config import Settings
from ftstudio.store import Store


def browser_secret(settings: Settings) -> str:
    """A secret kept in the studio folder, so names saved in the browser still read after a restart
    (gr.BrowserState encrypts with a fresh random secret per server start otherwise)."""
    path = settings.home / ".browser-secret"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_header(app: gr.Blocks, store: Store, settings: Settings) -> tuple[gr.Dropdown, gr.Textbox]:
    names = [p.name for p in store.list_projects()]
    with gr.Row(equal_height=True, elem_id="studio-bar"):
        project = gr.Dropdown(names, value=(names or [None])[0], label="Project", scale=3,
                              info="Each project has its own items, examples, datasets, runs and reviews.",
                              elem_id="project-picker", allow_custom_value=True)
        user = gr.Textbox(label="You are", max_lines=1, scale=2, elem_id="annotator", placeholder="your name",
                          info="Recorded with every label and vote; remembered in this browser.")
    remembered = gr.BrowserState("", storage_key="ftstudio-user", secret=browser_secret(settings))
    hidden = {"api_visibility": "undocumented"}
    # Saved when the person has typed it (blur or Enter), never a name the app made up.
    user.blur(lambda name: (name or "").strip(), user, remembered, **hidden)
    user.submit(lambda name: (name or "").strip(), user, remembered, **hidden)
    app.load(lambda name: name or "", remembered, user, **hidden)
    return project, user
