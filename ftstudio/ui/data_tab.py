"""The Data tab: projects, upload and import, the import report, the item table and the item view."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from ftstudio.config import Settings
from ftstudio.importing import ImportOptions, import_paths
from ftstudio.ingest import SUPPORTED_SUFFIXES
from ftstudio.ingest.records import ColumnMapping
from ftstudio.pii import MASKERS, check_masker_names
from ftstudio.samples import load_sample_projects
from ftstudio.store import ITEM_SORTS, TASK_TYPES, Store, StoreError
from ftstudio.ui.format import ERROR_COLUMNS, error_frame, message, report_markdown
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


def create_data_tab(app: gr.Blocks, store: Store, guard: Guard, settings: Settings, project: gr.Dropdown) -> None:
    """Build the Data tab inside the current Blocks; `project` is the picker every tab follows."""

    def project_names() -> list[str]:
        return [p.name for p in store.list_projects()]

    def browse(caller, project, search: str, page: float, sort: str | None = None):
        if project is None:
            return _item_frame([]), "No project selected: create one or load the sample data.", 1
        result = store.list_items(project.id, search or "", int(page or 1), settings.page_size,
                                  sort=sort if sort in ITEM_SORTS else "imported")
        caption = f"{result.total:,} item(s) · page {result.page} of {result.pages}"
        return _item_frame(result.rows), caption, result.page

    with gr.Accordion("New project", open=not project_names(), elem_id="new-project"):
        with gr.Row(equal_height=False):
            new_name = gr.Textbox(label="Name", placeholder="e.g. My LinkedIn posts", scale=2)
            new_task = gr.Dropdown(list(TASK_TYPES), value="generation", label="Task type", scale=1,
                                   info="generation: text → text · classification: text → label · structured: text → JSON")
            new_labels = gr.Textbox(label="Labels (classification)", placeholder="phishing, legitimate", scale=2)
            create_button = gr.Button("Create project", variant="secondary", scale=1)
    with gr.Accordion("Rename or delete this project", open=False, elem_id="project-admin"):
        with gr.Row(equal_height=True):
            rename_to = gr.Textbox(label="New name", max_lines=1, scale=3, elem_id="project-rename-to")
            rename_button = gr.Button("Rename", scale=1, elem_id="project-rename")
        with gr.Row(equal_height=True):
            delete_confirm = gr.Textbox(label="To delete, type the project's name", max_lines=1, scale=3,
                                        elem_id="project-delete-confirm",
                                        info="Deletes its items, labels, versions, run records and reviews; run "
                                             "folders on disk are kept. Recorded in the audit trail.")
            delete_button = gr.Button("Delete project", variant="stop", scale=1, elem_id="project-delete")
    status = gr.Markdown(elem_id="data-status")

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
    report = gr.Markdown(elem_id="import-report")
    errors = gr.Dataframe(pd.DataFrame(columns=ERROR_COLUMNS), label="Skipped", interactive=False, wrap=True,
                          visible=False, elem_id="import-errors")

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
    selected_item = gr.State(None)
    with gr.Group(elem_id="item-view"):
        item_title = gr.Textbox(label="Selected item", interactive=False, max_lines=2, elem_id="item-title")
        with gr.Row():
            item_text = gr.Textbox(label="Full text", interactive=False, lines=12, max_lines=30, scale=3,
                                   elem_id="item-text", buttons=["copy"])
            item_meta = gr.Dataframe(pd.DataFrame(columns=["field", "value"]), label="Metadata", scale=2,
                                     interactive=False, wrap=True, max_height=420, elem_id="item-meta",
                                     column_widths=["30%", "70%"])
    with gr.Accordion("Rename or delete the selected item", open=False):
        with gr.Row(equal_height=True):
            item_rename_to = gr.Textbox(label="New title", max_lines=1, scale=3)
            item_rename = gr.Button("Rename item", scale=1)
            item_delete_confirm = gr.Checkbox(label="Yes, delete it with its labels", scale=1)
            item_delete = gr.Button("Delete item", variant="stop", scale=1, elem_id="item-delete")
        item_notice = gr.Markdown()

    # --- handlers: widget values in, one domain call, formatted answer out ---

    def on_create(caller, name, task_type, labels_text):
        labels = [label.strip() for label in (labels_text or "").split(",") if label.strip()] or None
        try:
            created = store.create_project(name or "", task_type, labels=labels, user_name=caller.name)
        except StoreError as error:
            return gr.update(), message(str(error), "error")
        return gr.update(choices=project_names(), value=created.name), message(f"Created {created.name}.", "ok")

    def on_import(caller, selected, uploaded, masks, *mapping_and_split, progress=gr.Progress()):
        mapping_values, split = mapping_and_split[:len(MAPPING_FIELDS)], mapping_and_split[len(MAPPING_FIELDS):]
        if selected is None:
            return message("Create or pick a project first, then import.", "error"), gr.update(), gr.update(visible=False)
        if not uploaded:
            return message("Drop one or more files on the upload area first.", "error"), gr.update(), gr.update(visible=False)
        mapping = ColumnMapping(**{k: (v or "").strip() or None for k, v in zip(MAPPING_FIELDS, mapping_values)})
        try:
            check_masker_names(masks or [])
            result = import_paths(
                store, selected, [Path(p) for p in uploaded], settings.ingest,
                ImportOptions(mask_pii=tuple(masks or ()), mapping=mapping if any(mapping_values) else None,
                              split_forwarded=bool(split and split[0])),
                progress=lambda fraction, text: progress(fraction, desc=text),
            )
        except (StoreError, ValueError) as error:
            return message(f"Nothing was imported: {error}", "error"), gr.update(), gr.update(visible=False)
        frame = error_frame([result])
        return report_markdown([result]), frame, gr.update(value=frame, visible=not frame.empty)

    def on_samples(caller, progress=gr.Progress()):
        try:
            results = load_sample_projects(store, settings, lambda f, text: progress(f, desc=text))
        except StoreError as error:
            return gr.update(), message(str(error), "error"), gr.update(), gr.update(visible=False)
        frame = error_frame(results)
        return (gr.update(choices=project_names(), value=results[0].project), report_markdown(results),
                frame, gr.update(value=frame, visible=not frame.empty))

    def on_select(caller, event: gr.SelectData, shown: pd.DataFrame):
        row = event.index[0]
        item = store.get_item(int(shown.iloc[row]["id"]))
        if item is None:
            return "", "", _metadata_frame(None), None
        head = f"#{item.id} · {item.kind} · {item.title or '(no title)'} · {item.source}"
        return head, item.text, _metadata_frame(item), item.id

    def on_rename(caller, selected, new_name):
        if selected is None:
            return gr.update(), message("Pick a project first.", "error")
        try:
            renamed = store.rename_project(selected.id, new_name or "", caller.name)
        except StoreError as error:
            return gr.update(), message(str(error), "error")
        return (gr.update(choices=project_names(), value=renamed.name),
                message(f"Renamed \u201c{selected.name}\u201d to \u201c{renamed.name}\u201d.", "ok"))

    def on_delete(caller, selected, typed):
        if selected is None:
            return gr.update(), message("Pick a project first.", "error"), gr.update()
        if (typed or "").strip() != selected.name:
            return (gr.update(), message(f"Nothing was deleted: type the project's name, \u201c{selected.name}\u201d, "
                                         "exactly, to confirm.", "error"), gr.update())
        removed = store.delete_project(selected.id, caller.name)
        names = project_names()
        return (gr.update(choices=names, value=(names or [None])[0]),
                message(f"Deleted \u201c{selected.name}\u201d: {removed['items']} items, {removed['examples']} "
                        f"examples, {removed['dataset_versions']} versions, {removed['runs']} run records.", "ok"), "")

    def on_item_rename(caller, item_id, title):
        if item_id is None:
            return message("Select an item in the table first.", "error")
        try:
            store.rename_item(int(item_id), title or "", caller.name)
        except StoreError as error:
            return message(str(error), "error")
        return message("Renamed.", "ok")

    def on_item_delete(caller, item_id, confirmed):
        if item_id is None:
            return message("Select an item in the table first.", "error"), gr.update()
        if not confirmed:
            return message("Nothing was deleted: tick \u201cYes, delete it\u201d first.", "error"), gr.update()
        try:
            store.delete_item(int(item_id), caller.name)
        except StoreError as error:
            return message(str(error), "error"), gr.update()
        return message(f"Deleted item {item_id} (frozen versions keep their copy).", "ok"), False

    browse_inputs = [project, search, page, sort]
    browse_outputs = [table, caption, page]
    # Writes go through one queue slot: two imports at once would race on the duplicate check.
    writes = {"concurrency_limit": 1, "concurrency_id": "store-writes"}
    hidden = {"api_visibility": "undocumented"}
    refresh = guard("data", browse, quiet=True)
    create_button.click(guard("manage", on_create, project=False), [new_name, new_task, new_labels], [project, status],
                        api_name="create_project", **writes)
    import_button.click(
        guard("manage", on_import), [project, files, mask, *mapping_boxes, split_forwards], [report, errors, errors],
        api_name="import_files", **writes
    ).then(refresh, browse_inputs, browse_outputs, **hidden)
    sample_button.click(guard("manage", on_samples, project=False), None, [project, report, errors, errors],
                        api_name="load_samples", **writes).then(refresh, browse_inputs, browse_outputs, **hidden)
    project.change(guard("data", lambda caller, p, o: browse(caller, p, "", 1, o), quiet=True), [project, sort],
                   browse_outputs,
                   **hidden)
    search.submit(guard("data", lambda caller, p, s, o: browse(caller, p, s, 1, o)), [project, search, sort],
                  browse_outputs,
                  **hidden)
    page.submit(guard("data", browse), browse_inputs, browse_outputs, api_name="items")
    sort.change(guard("data", lambda caller, p, s, o: browse(caller, p, s, 1, o)), [project, search, sort],
                browse_outputs, **hidden)
    prev_button.click(guard("data", lambda caller, p, s, n, o: browse(caller, p, s, max(1, int(n or 1) - 1), o)),
                      browse_inputs, browse_outputs, **hidden)
    next_button.click(guard("data", lambda caller, p, s, n, o: browse(caller, p, s, int(n or 1) + 1, o)),
                      browse_inputs,
                      browse_outputs, **hidden)
    table.select(guard("data", on_select, project=False), table, [item_title, item_text, item_meta, selected_item],
                 **hidden)
    rename_button.click(guard("manage", on_rename), [project, rename_to], [project, status], api_name="rename_project",
                        **writes)
    delete_button.click(guard("manage", on_delete), [project, delete_confirm], [project, status, delete_confirm],
                        api_name="delete_project", **writes)
    item_rename.click(guard("manage", on_item_rename, project=False), [selected_item, item_rename_to], item_notice,
                      api_name="rename_item", **writes).then(refresh, browse_inputs, browse_outputs, **hidden)
    item_delete.click(guard("manage", on_item_delete, project=False), [selected_item, item_delete_confirm],
                      [item_notice, item_delete_confirm], api_name="delete_item", **writes
                      ).then(refresh, browse_inputs, browse_outputs, **hidden)

    def refresh_projects(caller, current):
        names = project_names()
        return gr.update(choices=names, value=current if current in names else (names or [None])[0])

    # Each page load sees the projects created since the app started (by the CLI, other users).
    app.load(guard("view", refresh_projects, project=False), project, project, **hidden).then(
        refresh, browse_inputs, browse_outputs, **hidden)
