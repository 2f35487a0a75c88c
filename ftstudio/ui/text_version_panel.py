"""The Datasets tab's raw text: every item's text frozen as a text version, with no labeling, for continued
pre-training (the Train tab then picks the cpt objective)."""

from __future__ import annotations

import gradio as gr

from ftstudio.store import Store, StoreError
from ftstudio.ui.format import message
from ftstudio.ui.handlers import Guard
from ftstudio.versions import TEXT_PLAN, SplitPlan, VersionError, freeze_text_version, parse_split

HELP = ("Continued pre-training learns the author's voice and domain from the posts themselves, before any "
        "example is labeled. This freezes every item's text as it is (no template), split and deduplicated as "
        "examples are; train it on the Train tab (objective cpt), then start an SFT run from that run.")


def create_text_version_panel(store: Store, guard: Guard, project: gr.Dropdown, versions_outputs: list,
                              versions_updates) -> None:
    """`versions_outputs` are refreshed after a freeze with the named updates `versions_updates(project)` returns."""
    with gr.Accordion("Raw text for continued pre-training", open=False, elem_id="text-version-panel"):
        gr.Markdown(HELP)
        with gr.Row():
            name = gr.Textbox(label="Version name", placeholder="default: v1, v2, ...", max_lines=1)
            split = gr.Textbox(",".join(f"{f:g}" for f in TEXT_PLAN), label="Split (train, validation, test)",
                               max_lines=1, info="The validation split gives the run's perplexity.")
            freeze_button = gr.Button("Freeze text version", variant="primary", elem_id="text-version-freeze")
        notice = gr.Markdown(elem_id="text-version-notice")

    def on_freeze(caller, picked, name_value, split_text):
        try:
            if picked is None:
                raise StoreError("Pick a project on the Data tab first.")
            before = {v.name for v in store.list_versions(picked.id)}
            version = freeze_text_version(store, picked, SplitPlan(parse_split(split_text or "0.9,0.1,0")),
                                          name_value, caller.name)
        except (StoreError, VersionError, ValueError) as error:
            return {notice: message(str(error), "error"), **versions_updates(picked)}
        counts = version.counts
        what = "Nothing changed since" if version.name in before else "Froze"
        return {notice: message(f"{what} text version {version.name} ({version.content_hash}): train "
                                f"{counts['train']}, validation {counts['validation']}, test {counts['test']} texts. "
                                "Train it with the cpt objective on the Train tab.", "ok"),
                **versions_updates(picked)}

    freeze_button.click(guard("datasets", on_freeze), [project, name, split], [notice, *versions_outputs],
                        api_name="freeze_text", concurrency_limit=1, concurrency_id="store-writes")
