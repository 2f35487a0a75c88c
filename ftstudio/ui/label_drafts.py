"""The Label tab's model drafts: the draft buttons, the offered draft, and the project's drafting model setting.

A draft is bound to the item it was made for. Drafts take up to a minute on a CPU; the annotator may skip or accept
meanwhile, so a draft that arrives for an item no longer on screen is dropped, never written into the next one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import gradio as gr

from ftstudio import labeling
from ftstudio.config import Settings
from ftstudio.drafting import (DRAFTER_KINDS, HUB_DRAFTERS, WEAK_DRAFTER_NOTE, DraftingChoice, LocalDrafters,
                               hub_offline, is_embedded_base)
from ftstudio.evaluation.generations import EvaluationError, run_label, tuned_system
from ftstudio.generation import BaseModel
from ftstudio.labeling import LabelingError
from ftstudio.models import ModelError
from ftstudio.remote import KEY_VARIABLES, RemoteModel, RemoteModelError
from ftstudio.shipping.drafters import RunDrafters
from ftstudio.store import Project, Store
from ftstudio.ui.format import message

DRAFTING_HELP = (
    "Drafts come from the studio's base model unless you pick a better one: a finished run of this project (its "
    "adapter on its base model), any OpenAI-compatible endpoint (a hosted API, or vLLM, llama.cpp or Ollama on your "
    "machines) as a stronger teacher, or, when the studio is online, a small instruct model from the Hugging Face "
    f"Hub (downloaded on the first draft). An endpoint's API key is read from {' or '.join(KEY_VARIABLES)} and never "
    "shown or stored.")


@dataclass
class Draft:
    """A model draft and the item it was made for: it may only land on that item."""

    item_id: int | None
    target: str  # "input" or "output"
    text: str
    model: str = ""  # which model drafted it, recorded with the example


@dataclass
class DraftWidgets:
    """The draft buttons and the offered draft (beside the input and output boxes)."""

    draft_input: gr.Button
    draft_output: gr.Button
    weak_note: gr.Markdown
    draft_row: gr.Row
    draft_box: gr.Textbox
    use_draft: gr.Button
    pending: gr.State       # the Draft (as a dict) offered or just made, with its item
    input_draft: gr.State   # {"text", "model"} the model drafted for this item's input, recorded with the decision
    output_draft: gr.State


@dataclass
class DrafterWidgets:
    """The project's drafting model setting."""

    kind: gr.Radio
    run: gr.Dropdown
    url: gr.Textbox
    model: gr.Textbox
    hub: gr.Dropdown
    save: gr.Button


def draft_widgets(draft_input: gr.Button, draft_output: gr.Button, weak_note: gr.Markdown) -> DraftWidgets:
    """The offered-draft row, here; the buttons and the note are placed by the caller under the text boxes."""
    with gr.Row(visible=False, elem_id="draft-row") as draft_row:
        draft_box = gr.Textbox(label="Model draft (nothing you typed was changed)", lines=3, interactive=False,
                               scale=4, elem_id="draft-text")
        use_draft = gr.Button("Use this draft", size="sm", scale=1, elem_id="use-draft")
    return DraftWidgets(draft_input=draft_input, draft_output=draft_output, weak_note=weak_note, draft_row=draft_row,
                        draft_box=draft_box, use_draft=use_draft, pending=gr.State(None), input_draft=gr.State(None),
                        output_draft=gr.State(None))


def drafter_widgets() -> DrafterWidgets:
    """The "Drafting model" accordion (for roles that may change settings)."""
    with gr.Accordion("Drafting model", open=False, elem_id="drafting-model"):
        gr.Markdown(DRAFTING_HELP)
        kind = gr.Radio([(text, key) for key, text in DRAFTER_KINDS.items() if key != "hub"], value="base",
                        label="Draft with", elem_id="drafter")
        with gr.Row():
            run = gr.Dropdown([], label="Finished run", visible=False, elem_id="drafter-run")
            url = gr.Textbox(label="Base URL", placeholder="http://localhost:8000/v1", max_lines=1, visible=False,
                             elem_id="drafter-url")
            model = gr.Textbox(label="Model name", placeholder="gpt-4o-mini", max_lines=1, visible=False,
                               elem_id="drafter-model")
            hub = gr.Dropdown([(d.label, d.hub_id) for d in HUB_DRAFTERS], value=HUB_DRAFTERS[0].hub_id,
                              label="Instruct model from the Hub", visible=False, elem_id="drafter-hub")
        save = gr.Button("Save the drafting model", size="sm", elem_id="save-drafter")
    return DrafterWidgets(kind, run, url, model, hub, save)


class DraftHandlers:
    """Drafting for one app: which model drafts for a project, and the events of the draft widgets."""

    def __init__(self, store: Store, settings: Settings, base_model: BaseModel, input_box: gr.Textbox,
                 output_box: gr.Textbox, notice: gr.Markdown, widgets: DraftWidgets, drafter: DrafterWidgets):
        self.store, self.settings, self.base_model = store, settings, base_model
        self.input_box, self.output_box, self.notice = input_box, output_box, notice
        self.w, self.drafter = widgets, drafter
        self.local = LocalDrafters(settings.model_cache)
        self.runs = RunDrafters()
        self._online: bool | None = None

    def online(self) -> bool:
        """Whether to offer Hub models; asked once per app (a network check can take a second)."""
        if self._online is None:
            self._online = not hub_offline()
        return self._online

    def generate_function(self, project: Project | None):
        """The `generate` of the project's drafting model."""
        choice = DraftingChoice.from_settings(project.settings.get("drafting") if project else None)
        if choice.kind == "endpoint":
            return RemoteModel(choice.base_url, choice.model, secrets_home=self.settings.home).generate
        if choice.kind == "hub":
            return self.local.generate_function(choice.model)
        if choice.kind == "run":
            run = self.store.get_run(choice.run_id) if choice.run_id is not None else None
            if run is None or run.project_id != project.id:
                raise LabelingError(f"The drafting model is run {choice.run_id}, which is gone: pick another "
                                    "under \u201cDrafting model\u201d.")
            # The run's adapter, prompted with its own template, as its review answers were.
            return self.runs.generate_function(self.store, run)
        return self.base_model.generate

    def drafter_name(self, project: Project | None) -> str:
        """Who drafts for the project, as recorded with each draft: base, run-N, or the endpoint's or Hub's model."""
        choice = DraftingChoice.from_settings(project.settings.get("drafting") if project else None)
        if choice.kind == "run":
            run = self.store.get_run(choice.run_id) if choice.run_id is not None else None
            return run.system if run else "run"
        return choice.model if choice.kind in ("endpoint", "hub") else "base"

    def weak_note(self, project: Project | None) -> dict:
        """The warning beside the draft buttons, shown while drafts come from the embedded base model."""
        choice = DraftingChoice.from_settings(project.settings.get("drafting") if project else None)
        drafts_shown = project is not None and project.task_type != "classification"  # no draft buttons there
        weak = drafts_shown and choice.kind == "base" and is_embedded_base(self.settings.base_model)
        return gr.update(value=message(WEAK_DRAFTER_NOTE, "info") if weak else "", visible=weak)

    # --- drafts ---

    def on_draft(self, direction: str):
        def handler(caller, project, item_id, input_text, output_text):
            try:
                examples = labeling.accepted_examples(self.store, project) if project else []
                generate = self.generate_function(project)
                drafter = self.drafter_name(project)
                if drafter.startswith("run-") and direction == "output":
                    examples = []  # a tuned run learned the task: it answers the input alone, as in its review
                if direction == "input":
                    text = labeling.draft_input(generate, output_text or "", examples)
                else:
                    text = labeling.draft_output(generate, input_text or "", examples)
            except (LabelingError, ModelError, RemoteModelError, EvaluationError, OSError) as error:
                # OSError: a Hub model's tokenizer that cannot be downloaded or found
                return {self.w.pending: None, self.notice: message(str(error), "error")}
            return {self.w.pending: asdict(Draft(item_id, direction, text, drafter)), self.notice: ""}
        return handler

    def on_draft_arrived(self, caller, item_id, pending, input_text, output_text):
        """Put a finished draft where it belongs: into its empty box, offered beside a filled one, or nowhere
        when the item it was made for is no longer on screen."""
        if not pending:  # the draft failed, and said why already
            return {self.w.pending: None}
        draft = Draft(**pending)
        if draft.item_id != item_id:
            return {self.w.pending: None,
                    self.notice: message(f"The draft for item {draft.item_id} came after you moved on, so it was "
                                         "dropped: this item is as it was.", "info")}
        recorded = self.w.input_draft if draft.target == "input" else self.w.output_draft
        box = self.input_box if draft.target == "input" else self.output_box
        current = input_text if draft.target == "input" else output_text
        kept = {"text": draft.text, "model": draft.model}
        if (current or "").strip():  # never overwrite what the user or the data put there: offer the draft
            return {recorded: kept, self.w.draft_box: draft.text, self.w.draft_row: gr.update(visible=True)}
        return {recorded: kept, box: draft.text, self.w.pending: None, self.w.draft_row: gr.update(visible=False)}

    def on_use_draft(self, caller, item_id, pending):
        hide = {self.w.draft_row: gr.update(visible=False), self.w.pending: None}
        if not pending or pending.get("item_id") != item_id:
            return hide
        box = self.input_box if pending["target"] == "input" else self.output_box
        return {box: pending["text"], **hide}

    # --- the drafting model setting ---

    def drafter_updates(self, project: Project | None) -> dict:
        """The setting as saved for this project, with the runs it may draft with."""
        choice = DraftingChoice.from_settings(project.settings.get("drafting") if project else None)
        # Hub models are offered only online; one saved earlier still shows, so the setting reads as saved.
        kinds = [(text, key) for key, text in DRAFTER_KINDS.items()
                 if key != "hub" or choice.kind == "hub" or self.online()]
        runs = [(run_label(run), run.id) for run in self.store.list_runs(project.id, ("finished",))] if project else []
        return {self.drafter.kind: gr.update(choices=kinds, value=choice.kind),
                **self.drafter_visibility(choice.kind),
                self.drafter.run: gr.update(choices=runs, value=choice.run_id if choice.kind == "run" else None,
                                            visible=choice.kind == "run",
                                            info=None if runs else "No finished run yet: train one on the Train tab."),
                self.drafter.url: choice.base_url if choice.kind == "endpoint" else "",
                self.drafter.model: choice.model if choice.kind == "endpoint" else "",
                self.drafter.hub: gr.update(value=choice.model if choice.kind == "hub" else HUB_DRAFTERS[0].hub_id,
                                            visible=choice.kind == "hub"),
                self.w.weak_note: self.weak_note(project)}

    def drafter_visibility(self, kind: str) -> dict:
        return {self.drafter.run: gr.update(visible=kind == "run"),
                self.drafter.url: gr.update(visible=kind == "endpoint"),
                self.drafter.model: gr.update(visible=kind == "endpoint"),
                self.drafter.hub: gr.update(visible=kind == "hub")}

    def on_kind(self, caller, kind):
        return self.drafter_visibility(kind)

    def on_save_drafter(self, caller, project, kind, run_id, url, model_name, hub_id):
        if project is None:
            return {self.notice: message("Pick a project first.", "error")}
        try:
            choice = self.checked_choice(project, kind, run_id, url, model_name, hub_id)
        except (LabelingError, RemoteModelError, EvaluationError) as error:
            return {self.notice: message(str(error), "error")}
        saved = self.store.update_project(project.id, settings={"drafting": choice.to_settings()})
        said = {"base": "the studio's base model", "run": f"run {choice.run_id}",
                "endpoint": f"{choice.model} at {choice.base_url}",
                "hub": f"{choice.model} (downloaded from the Hub on the first draft)"}[choice.kind]
        return {self.notice: message(f"Drafts come from {said}.", "ok"), self.w.weak_note: self.weak_note(saved)}

    def checked_choice(self, project: Project, kind, run_id, url, model_name, hub_id) -> DraftingChoice:
        """The choice to save, refused with what to fix when it cannot draft."""
        if kind == "endpoint":
            remote = RemoteModel(url or "", model_name or "")
            return DraftingChoice("endpoint", base_url=remote.base_url, model=remote.model)
        if kind == "run":
            run = self.store.get_run(int(run_id)) if run_id not in (None, "") else None
            if run is None or run.project_id != project.id:
                raise LabelingError("Pick one of this project's finished runs to draft with.")
            tuned_system(self.store, run)  # refuses a classifier or a run without an adapter, saying why
            return DraftingChoice("run", run_id=run.id)
        if kind == "hub":
            if hub_id not in {d.hub_id for d in HUB_DRAFTERS}:
                raise LabelingError("Pick one of the listed Hub models.")
            if not self.online():
                raise LabelingError("The studio is offline, so it cannot download a Hub model: pick a run or an endpoint, "
                                    "or start the studio with HF_HUB_OFFLINE=0 to allow Hub downloads.")
            return DraftingChoice("hub", model=hub_id)
        return DraftingChoice()
