"""The Data tab: projects, upload and import, the import report, the item table and the item view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.importing import ImportOptions, import_paths
from ftstudio.ingest import SUPPORTED_SUFFIXES
from ftstudio.ingest.records import ColumnMapping
from ftstudio.pii import MASKERS, check_masker_names
from ftstudio.samples import SAMPLE_PROJECTS, load_sample_projects
from ftstudio.store import ITEM_SORTS, TASK_TYPES, Store, StoreError
from ftstudio.ui.format import ERROR_COLUMNS, error_frame, escape, message, report_markdown
from ftstudio.ui.handlers import Guard

ITEM_COLUMNS = ["id", "kind", "title", "author", "written", "preview", "chars"]
SORT_LABELS = {"imported": "latest import", "newest": "newest written", "oldest": "oldest written"}
MAPPING_FIELDS = ("text", "title", "author", "date", "input", "output", "label")


def _item_frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame(
        [[r.id, r.kind, r.title or "", r.author or "",
          r.written_at.strftime("%Y-%m-%d") if r.written_at else "",
          " ".join(r.preview.split())[:160], r.chars] for r in rows],
        columns=ITEM_COLUMNS,
    )


def _metadata_frame(item) -> pd.DataFrame:
    """An item's metadata as field/value rows: easier to read than nested JSON for a domain expert."""
    rows = [[key, getattr(item, key)] for key in ("author", "written_at", "source", "imported_at")
            if getattr(item, key, None)]
    for key, value in (getattr(item, "metadata", None) or {}).items():
        if isinstance(value, list):
            value = "; ".join(v if isinstance(v, str) else ", ".join(f"{k}: {x}" for k, x in v.items())
                              if isinstance(v, dict) else str(v) for v in value)
        if value not in (None, "", []):
            rows.append([key, str(value)])
    return pd.DataFrame(rows, columns=["field", "value"])


def samples_caption() -> str:
    """What "Load sample data" creates, read from the sample list itself."""
    return "Sample data: " + " · ".join(f"**{escape(s.name)}**: {escape(s.description)}" for s in SAMPLE_PROJECTS)


@dataclass
class ProjectWidgets:
    """New project, rename and delete."""

    box: gr.Accordion
    new_name: gr.Textbox
    new_task: gr.Dropdown
    new_labels: gr.Textbox
    create: gr.Button
    rename_to: gr.Textbox
    rename: gr.Button
    delete_confirm: gr.Textbox
    delete: gr.Button
    status: gr.Markdown


@dataclass
class ImportWidgets:
    """Upload, options and the import report."""

    files: gr.File
    mask: gr.CheckboxGroup
    split_forwards: gr.Checkbox
    mapping_boxes: list
    import_button: gr.Button
    sample_button: gr.Button
    report: gr.Markdown
    errors: gr.Dataframe
    errors_box: gr.Column


@dataclass
class ItemWidgets:
    """The item table, its controls, the selected item and its rename or delete."""

    search: gr.Textbox
    prev_button: gr.Button
    page: gr.Number
    sort: gr.Dropdown
    next_button: gr.Button
    caption: gr.Markdown
    table: gr.Dataframe
    selected: gr.State
    title: gr.Textbox
    text: gr.Textbox
    meta: gr.Dataframe
    rename_to: gr.Textbox
    rename: gr.Button
    delete_confirm: gr.Checkbox
    delete: gr.Button
    notice: gr.Markdown


def project_layout(open_new: bool) -> ProjectWidgets:
    with gr.Accordion("New project", open=open_new, elem_id="new-project") as box:
        with gr.Row(equal_height=False):
            new_name = gr.Textbox(label="Name", placeholder="e.g. My LinkedIn posts", scale=2)
            new_task = gr.Dropdown(list(TASK_TYPES), value="generation", label="Task type", scale=1,
                                   info="generation: text → text · classification: text → label · structured: text → JSON")
            new_labels = gr.Textbox(label="Labels (classification)", placeholder="phishing, legitimate", scale=2)
            create = gr.Button("Create project", variant="secondary", scale=1)
    with gr.Accordion("Rename or delete this project", open=False, elem_id="project-admin"):
        with gr.Row(equal_height=True):
            rename_to = gr.Textbox(label="New name", max_lines=1, scale=3, elem_id="project-rename-to")
            rename = gr.Button("Rename", scale=1, elem_id="project-rename")
        with gr.Row(equal_height=True):
            delete_confirm = gr.Textbox(label="To delete, type the project's name", max_lines=1, scale=3,
                                        elem_id="project-delete-confirm",
                                        info="Deletes its items, labels, versions, run records and reviews; run "
                                             "folders on disk are kept. Recorded in the audit trail.")
            delete = gr.Button("Delete project", variant="stop", scale=1, elem_id="project-delete")
    status = gr.Markdown(elem_id="data-status")
    return ProjectWidgets(box, new_name, new_task, new_labels, create, rename_to, rename, delete_confirm, delete,
                          status)


def import_layout() -> ImportWidgets:
    with gr.Row(elem_id="import-row"):
        with gr.Column(scale=3):
            files = gr.File(file_count="multiple", label="Drop files, folders' contents or zips here",
                            file_types=list(SUPPORTED_SUFFIXES), elem_id="upload")
        with gr.Column(scale=2):
            mask = gr.CheckboxGroup([(m.description, m.name) for m in MASKERS.values()], label="Mask personal data",
                                    info="Applied before anything is stored; recorded with the import.")
            split_forwards = gr.Checkbox(label="Forwarded emails become items of their own",
                                         info="Each forwarded message is split out, linked to the email that "
                                              "forwarded it; off: it stays inside that email's text.")
            with gr.Accordion("Column mapping for CSV / JSONL / JSON / Parquet", open=False):
                gr.Markdown("Leave a field empty to guess it from common names (text, content, body, post, …).")
                mapping_boxes = [gr.Textbox(label=f"{name} column", max_lines=1) for name in MAPPING_FIELDS]
            with gr.Row():
                import_button = gr.Button("Import", variant="primary", elem_id="import-button")
                sample_button = gr.Button("Load sample data", elem_id="sample-button")
            gr.Markdown(samples_caption(), elem_id="sample-list")
    report = gr.Markdown(elem_id="import-report")
    # The table goes to API callers as a bare value; the column around it is what shows or hides it.
    with gr.Column(visible=False) as errors_box:
        errors = gr.Dataframe(pd.DataFrame(columns=ERROR_COLUMNS), label="Skipped", interactive=False, wrap=True,
                              elem_id="import-errors")
    return ImportWidgets(files, mask, split_forwards, mapping_boxes, import_button, sample_button, report, errors,
                         errors_box)


def item_layout() -> ItemWidgets:
    gr.Markdown("### Items")
    with gr.Row(equal_height=True, elem_id="item-controls"):
        search = gr.Textbox(label="Search", placeholder="words in the text, title or author — press Enter", scale=5,
                            elem_id="item-search", max_lines=1)
        prev_button = gr.Button("◀ Previous", scale=1, min_width=90, size="sm")
        page = gr.Number(value=1, label="Page", precision=0, scale=1, min_width=80, elem_id="item-page")
        sort = gr.Dropdown([(SORT_LABELS.get(k, f"most {k}"), k) for k in ITEM_SORTS], value="imported",
                           label="Sort by", scale=2, min_width=140, elem_id="item-sort")
        next_button = gr.Button("Next ▶", scale=1, min_width=90, size="sm")
    caption = gr.Markdown(elem_id="item-caption")
    table = gr.Dataframe(_item_frame([]), interactive=False, wrap=True, max_height=520, elem_id="item-table",
                         column_widths=["6%", "6%", "20%", "14%", "9%", "39%", "6%"])
    with gr.Group(elem_id="item-view"):
        title = gr.Textbox(label="Selected item", interactive=False, max_lines=2, elem_id="item-title")
        with gr.Row():
            text = gr.Textbox(label="Full text", interactive=False, lines=12, max_lines=30, scale=3,
                              elem_id="item-text", buttons=["copy"])
            meta = gr.Dataframe(pd.DataFrame(columns=["field", "value"]), label="Metadata", scale=2,
                                interactive=False, wrap=True, max_height=420, elem_id="item-meta",
                                column_widths=["30%", "70%"])
    # Renaming and deleting items is for roles that may manage data: hidden from the rest (header.ADMIN_PARTS).
    with gr.Accordion("Rename or delete the selected item", open=False, elem_id="item-admin"):
        with gr.Row(equal_height=True):
            rename_to = gr.Textbox(label="New title", max_lines=1, scale=3)
            rename = gr.Button("Rename item", scale=1)
            delete_confirm = gr.Checkbox(label="Yes, delete it with its labels", scale=1)
            delete = gr.Button("Delete item", variant="stop", scale=1, elem_id="item-delete")
        notice = gr.Markdown()
    return ItemWidgets(search, prev_button, page, sort, next_button, caption, table, gr.State(None), title, text,
                       meta, rename_to, rename, delete_confirm, delete, notice)


class DataHandlers:
    """The Data tab's events: widget values in, one store or import call, named updates out."""

    def __init__(self, store: Store, settings: Settings, project: gr.Dropdown, projects: ProjectWidgets,
                 imports: ImportWidgets, items: ItemWidgets):
        self.store, self.settings, self.project = store, settings, project
        self.p, self.i, self.items = projects, imports, items

    def project_names(self) -> list[str]:
        return [p.name for p in self.store.list_projects()]

    def picker(self, value) -> dict:
        return gr.update(choices=self.project_names(), value=value)

    def browse(self, caller, project, search: str, page: float, sort: str | None = None):
        if project is None:
            return _item_frame([]), "No project selected: create one or load the sample data.", 1
        result = self.store.list_items(project.id, search or "", int(page or 1), self.settings.page_size,
                                       sort=sort if sort in ITEM_SORTS else "imported")
        caption = f"{result.total:,} item(s) · page {result.page} of {result.pages}"
        return _item_frame(result.rows), caption, result.page

    def on_create(self, caller, name, task_type, labels_text):
        labels = [label.strip() for label in (labels_text or "").split(",") if label.strip()] or None
        try:
            created = self.store.create_project(name or "", task_type, labels=labels, user_name=caller.name)
        except StoreError as error:
            return {self.p.status: message(str(error), "error")}
        # Done with the box: close it, empty, so the page shows the new project's work below it.
        return {self.project: self.picker(created.name), self.p.status: message(f"Created {created.name}.", "ok"),
                self.p.box: gr.update(open=False), self.p.new_name: "", self.p.new_labels: ""}

    def import_failed(self, text: str) -> dict:
        return {self.i.report: message(text, "error"), self.i.errors_box: gr.update(visible=False)}

    def on_import(self, caller, selected, uploaded, masks, *mapping_and_split, progress=gr.Progress()):
        mapping_values, split = mapping_and_split[:len(MAPPING_FIELDS)], mapping_and_split[len(MAPPING_FIELDS):]
        if selected is None:
            return self.import_failed("Create or pick a project first, then import.")
        if not uploaded:
            return self.import_failed("Drop one or more files on the upload area first.")
        mapping = ColumnMapping(**{k: (v or "").strip() or None for k, v in zip(MAPPING_FIELDS, mapping_values)})
        try:
            check_masker_names(masks or [])
            result = import_paths(
                self.store, selected, [Path(p) for p in uploaded], self.settings.ingest,
                ImportOptions(mask_pii=tuple(masks or ()), mapping=mapping if any(mapping_values) else None,
                              split_forwarded=bool(split and split[0])),
                progress=lambda fraction, text: progress(fraction, desc=text),
            )
        except (StoreError, ValueError) as error:
            return self.import_failed(f"Nothing was imported: {error}")
        frame = error_frame([result])
        # The status line says nothing about an import (the report does): emptied, so no old message lingers.
        return {self.i.report: report_markdown([result]), self.i.errors: frame,
                self.i.errors_box: gr.update(visible=not frame.empty), self.p.status: ""}

    def on_samples(self, caller, progress=gr.Progress()):
        try:
            results = load_sample_projects(self.store, self.settings, lambda f, text: progress(f, desc=text))
        except StoreError as error:
            return self.import_failed(str(error))
        frame = error_frame(results)
        return {self.project: self.picker(results[0].project), self.i.report: report_markdown(results),
                self.i.errors: frame, self.i.errors_box: gr.update(visible=not frame.empty), self.p.status: "",
                self.p.box: gr.update(open=False)}  # projects exist now: the New project box gives way

    def on_select(self, caller, event: gr.SelectData, shown: pd.DataFrame):
        item = self.store.get_item(int(shown.iloc[event.index[0]]["id"]))
        if item is None:
            return {self.items.title: "", self.items.text: "", self.items.meta: _metadata_frame(None),
                    self.items.selected: None}
        head = f"#{item.id} · {item.kind} · {item.title or '(no title)'} · {item.source}"
        return {self.items.title: head, self.items.text: item.text, self.items.meta: _metadata_frame(item),
                self.items.selected: item.id}

    def on_rename(self, caller, selected, new_name):
        if selected is None:
            return {self.p.status: message("Pick a project first.", "error")}
        try:
            renamed = self.store.rename_project(selected.id, new_name or "", caller.name)
        except StoreError as error:
            return {self.p.status: message(str(error), "error")}
        return {self.project: self.picker(renamed.name),
                self.p.status: message(f"Renamed \u201c{selected.name}\u201d to \u201c{renamed.name}\u201d.", "ok")}

    def on_delete(self, caller, selected, typed):
        if selected is None:
            return {self.p.status: message("Pick a project first.", "error")}
        if (typed or "").strip() != selected.name:
            return {self.p.status: message("Nothing was deleted: type the project's name, "
                                           f"\u201c{selected.name}\u201d, exactly, to confirm.", "error")}
        removed = self.store.delete_project(selected.id, caller.name)
        names = self.project_names()
        return {self.project: gr.update(choices=names, value=(names or [None])[0]), self.p.delete_confirm: "",
                self.p.status: message(f"Deleted \u201c{selected.name}\u201d: {removed['items']} items, "
                                       f"{removed['examples']} examples, {removed['dataset_versions']} versions, "
                                       f"{removed['runs']} run records.", "ok")}

    def on_item_rename(self, caller, item_id, title):
        if item_id is None:
            return message("Select an item in the table first.", "error")
        try:
            self.store.rename_item(int(item_id), title or "", caller.name)
        except StoreError as error:
            return message(str(error), "error")
        return message("Renamed.", "ok")

    def on_item_delete(self, caller, item_id, confirmed):
        notice = self.items.notice
        if item_id is None:
            return {notice: message("Select an item in the table first.", "error")}
        if not confirmed:
            return {notice: message("Nothing was deleted: tick \u201cYes, delete it\u201d first.", "error")}
        try:
            self.store.delete_item(int(item_id), caller.name)
        except StoreError as error:
            return {notice: message(str(error), "error")}
        return {notice: message(f"Deleted item {item_id} (frozen versions keep their copy).", "ok"),
                self.items.delete_confirm: False}

    def refresh_projects(self, caller, current):
        names = self.project_names()
        return gr.update(choices=names, value=current if current in names else (names or [None])[0])


def create_data_tab(app: gr.Blocks, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown) -> None:
    """Build the Data tab inside the current Blocks; `project` is the picker every tab follows."""
    p = project_layout(open_new=not store.list_projects())
    i = import_layout()
    t = item_layout()
    h = DataHandlers(store, settings, project, p, i, t)
    browse_inputs = [project, t.search, t.page, t.sort]
    browse_outputs = [t.table, t.caption, t.page]
    # Writes go through one queue slot: two imports at once would race on the duplicate check.
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    hidden = {"api_visibility": "undocumented"}
    refresh = guard("data", h.browse, quiet=True)
    p.create.click(guard("manage", h.on_create, project=False), [p.new_name, p.new_task, p.new_labels],
                   [project, p.status, p.box, p.new_name, p.new_labels], api_name="create_project", **writes)
    i.import_button.click(
        guard("manage", h.on_import), [project, i.files, i.mask, *i.mapping_boxes, i.split_forwards],
        [i.report, i.errors, i.errors_box, p.status], api_name="import_files", **writes
    ).then(refresh, browse_inputs, browse_outputs, **hidden)
    i.sample_button.click(guard("manage", h.on_samples, project=False), None,
                          [project, i.report, i.errors, i.errors_box, p.status, p.box], api_name="load_samples",
                          **writes
                          ).then(refresh, browse_inputs, browse_outputs, **hidden)
    from_page_one = guard("data", lambda caller, pick, text, order: h.browse(caller, pick, text, 1, order))
    project.change(guard("data", lambda caller, pick, order: h.browse(caller, pick, "", 1, order), quiet=True),
                   [project, t.sort], browse_outputs, **hidden)
    t.search.submit(from_page_one, [project, t.search, t.sort], browse_outputs, **hidden)
    t.page.submit(guard("data", h.browse), browse_inputs, browse_outputs, api_name="items")
    t.sort.change(from_page_one, [project, t.search, t.sort], browse_outputs, **hidden)
    t.prev_button.click(guard("data", lambda caller, pick, text, n, order: h.browse(caller, pick, text,
                                                                                    max(1, int(n or 1) - 1), order)),
                        browse_inputs, browse_outputs, **hidden)
    t.next_button.click(guard("data", lambda caller, pick, text, n, order: h.browse(caller, pick, text,
                                                                                    int(n or 1) + 1, order)),
                        browse_inputs, browse_outputs, **hidden)
    t.table.select(guard("data", h.on_select, project=False), t.table, [t.title, t.text, t.meta, t.selected],
                   **hidden)
    p.rename.click(guard("manage", h.on_rename), [project, p.rename_to], [project, p.status],
                   api_name="rename_project", **writes)
    p.delete.click(guard("manage", h.on_delete), [project, p.delete_confirm], [project, p.status, p.delete_confirm],
                   api_name="delete_project", **writes)
    t.rename.click(guard("manage", h.on_item_rename, project=False), [t.selected, t.rename_to], t.notice,
                   api_name="rename_item", **writes).then(refresh, browse_inputs, browse_outputs, **hidden)
    t.delete.click(guard("manage", h.on_item_delete, project=False), [t.selected, t.delete_confirm],
                   [t.notice, t.delete_confirm], api_name="delete_item", **writes
                   ).then(refresh, browse_inputs, browse_outputs, **hidden)
    # Each page load sees the projects created since the app started (by the CLI, other users).
    app.load(guard("view", h.refresh_projects, project=False), project, project, **hidden).then(
        refresh, browse_inputs, browse_outputs, **hidden)
