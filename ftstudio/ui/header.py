"""The bar above the tabs: which project every tab works on, and who is working.

In an open studio the person types their name (kept in this browser). With logins on, the name is the signed-in
user's, shown with their role; the box is hidden, and nothing typed into it is ever recorded."""

from __future__ import annotations

import secrets

import gradio as gr

from ftstudio.config import Settings
from ftstudio.access import ACTIONS
from ftstudio.store import Store
from ftstudio.ui.format import escape
from ftstudio.ui.handlers import Guard


def browser_secret(settings: Settings) -> str:
    """A secret kept in the studio folder, so names saved in the browser still read after a restart
    (gr.BrowserState encrypts with a fresh random secret per server start otherwise)."""
    path = settings.home / ".browser-secret"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_header(app: gr.Blocks, store: Store, guard: Guard, settings: Settings) -> tuple[gr.Dropdown, gr.Textbox]:
    names = [p.name for p in store.list_projects()]
    logins = guard.policy.logins
    with gr.Row(equal_height=True, elem_id="studio-bar"):
        project = gr.Dropdown(names, value=(names or [None])[0], label="Project", scale=3,
                              info="Each project has its own items, examples, datasets, runs and reviews.",
                              elem_id="project-picker", allow_custom_value=True)
        user = gr.Textbox(label="You are", max_lines=1, scale=2, elem_id="annotator", placeholder="your name",
                          info="Recorded with every label and vote; remembered in this browser.", visible=not logins)
        if logins:
            with gr.Column(scale=2, min_width=200):
                signed_in = gr.Markdown(elem_id="signed-in")
                if guard.policy.mode == "oauth":
                    gr.LoginButton(elem_id="login-button")
                else:
                    gr.Button("Log out", link="/logout", size="sm", elem_id="logout")
    hidden = {"api_visibility": "undocumented"}
    if logins:
        def who(caller):
            return f"Signed in as **{escape(caller.name)}** · {escape(caller.role)}"
        app.load(guard("view", who, project=False, quiet=True), None, signed_in, **hidden)
        return project, user
    remembered = gr.BrowserState("", storage_key="ftstudio-user", secret=browser_secret(settings))
    # Saved when the person has typed it (blur or Enter), never a name the app made up.
    keep = guard("view", lambda caller, name: (name or "").strip(), project=False)
    user.blur(keep, user, remembered, **hidden)
    user.submit(keep, user, remembered, **hidden)
    app.load(guard("view", lambda caller, name: name or "", project=False), remembered, user, **hidden)
    return project, user


# Parts of tabs others may open that only some roles may use: hidden from the rest, and refused on the server.
ADMIN_PARTS = {"manage": ("#new-project", "#project-admin", "#import-row", "#sample-button", "#item-admin"),
               "settings": ("#label-settings", "#drafting-model"),
               "generate": ("#review-systems", "#review-inputs-row", "#review-decoding", "#review-generate-row")}


def show_tabs_by_role(app: gr.Blocks, guard: Guard, tabs: dict[str, gr.Tab]) -> None:
    """Each person sees the tabs their role may use (`tabs` maps an action to its tab). Only a convenience: the
    handlers behind every tab check the role again.

    Gradio does not reliably hide a tab's button on a visibility update, so the buttons of the tabs a role may not
    use are hidden with a style rule the page adds once it knows the role."""
    if not guard.policy.logins:
        return
    hidden_ids = gr.Textbox(visible=False, elem_id="hidden-tab-buttons")

    def hidden_buttons(caller):
        hidden = [f"#{tab.elem_id}-button" for action, tab in tabs.items() if caller.role not in ACTIONS[action][1]]
        hidden += [selector for action, selectors in ADMIN_PARTS.items() if not caller.may(action)
                   for selector in selectors]
        return ",".join(hidden)

    hide = """(selectors) => {
        if (!selectors) return;
        const style = document.getElementById('ftstudio-role-style') || document.createElement('style');
        style.id = 'ftstudio-role-style';
        style.textContent = selectors + ' { display: none !important; }';
        document.head.appendChild(style);
    }"""
    app.load(guard("view", hidden_buttons, project=False, quiet=True), None, hidden_ids,
             api_visibility="undocumented").then(None, hidden_ids, None, js=hide)
