"""The Datasets tab's preference pairs: what the project's blind votes (and a trusted judge) hold, counted per
source before anything is frozen, then frozen into a version DPO trains on; or pairs frozen from a file."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ftstudio.evaluation import preference_pairs as preferences
from ftstudio.store import Store, StoreError
from ftstudio.ui.handlers import Guard
from ftstudio.ui.format import message
from ftstudio.versions import SplitPlan, VersionError, freeze_preference_rows, parse_split, read_preference_file

HELP = ("Every A-or-B vote on the **Review** tab says which of two answers is better: those are the best training "
        "data the project has. Ties, both-bad votes and identical answers are left out; pairs imported from "
        "preference files (prompt, chosen, rejected) join them. Votes on test-split answers count too, but a DPO "
        "run's review then leaves out every prompt it learned from (and says how many): vote on answers to "
        "**train-split** prompts (Review tab, Inputs: train split) to keep the whole test split for proving the tuned "
        "model better.")


def create_preferences_panel(store: Store, guard: Guard, project: gr.Dropdown, versions_outputs: list,
                             versions_updates) -> None:
    """`versions_outputs` (the versions table and pick) are refreshed after a freeze with the named updates
    `versions_updates(project)` returns."""
    fields = preferences.PreferenceFilters.__dataclass_fields__
    with gr.Accordion("Preference pairs for DPO", open=False, elem_id="preferences-panel"):
        gr.Markdown(HELP)
        with gr.Row():
            min_agreeing = gr.Number(1, precision=0, label="reviewers who must agree",
                                     info=fields["min_agreeing"].metadata["help"])
            include_judge = gr.Checkbox(False, label="use the judge too", info=fields["include_judge"].metadata["help"])
            min_kappa = gr.Number(0.4, label="judge's least kappa with people",
                                  info=fields["min_judge_kappa"].metadata["help"])
        with gr.Row():
            name = gr.Textbox(label="Version name", placeholder="default: v1, v2, ...", max_lines=1)
            split = gr.Textbox("0.9,0.1,0", label="Split (train, validation, test)", max_lines=1,
                               info="Pairs sharing a prompt land in the same split.")
            pairs_file = gr.File(label="…or pairs from a file (.jsonl, .parquet)", file_types=[".jsonl", ".parquet"])
        with gr.Row():
            count_button = gr.Button("Count pairs", elem_id="preferences-count")
            freeze_button = gr.Button("Freeze preference version", variant="primary", elem_id="preferences-freeze")
        notice = gr.Markdown(elem_id="preferences-notice")

    def filters(agreeing, judge, kappa) -> preferences.PreferenceFilters:
        return preferences.PreferenceFilters(min_agreeing=int(agreeing or 0), include_judge=bool(judge),
                                             min_judge_kappa=float(kappa if kappa is not None else 0.4))

    def selected(picked):
        found = picked
        if found is None:
            raise StoreError("Pick a project on the Data tab first.")
        return found

    def on_count(picked, agreeing, judge, kappa):
        try:
            candidates = preferences.collect_preferences(store, selected(picked), filters(agreeing, judge, kappa))
        except (StoreError, VersionError) as error:
            return message(str(error), "error")
        return "\n\n".join(message(line, "info") for line in candidates.describe().splitlines())

    def on_freeze(caller, picked, agreeing, judge, kappa, name_value, split_text, uploaded):
        try:
            chosen = selected(picked)
            plan = SplitPlan(parse_split(split_text or "0.9,0.1,0"))
            before = {v.name for v in store.list_versions(chosen.id)}
            if uploaded:
                rows = read_preference_file(Path(uploaded))
                version = freeze_preference_rows(store, chosen, rows, plan, name_value,
                                                 origin={"file": Path(uploaded).name}, user_name=caller.name)
            else:
                version = preferences.freeze_preferences(store, chosen, filters(agreeing, judge, kappa), plan,
                                                         name_value, caller.name)
        except (StoreError, VersionError, ValueError) as error:
            return {notice: message(str(error), "error"), **versions_updates(picked)}
        counts = version.counts
        what = "Nothing changed since" if version.name in before else "Froze"
        sources = ", ".join(f"{n} from {'people' if s == 'human' else s}" for s, n in counts["sources"].items())
        identical = (f" Left out {counts['identical_left_out']}: chosen and rejected had the same words." if
                     counts.get("identical_left_out") else "")
        return {notice: message(f"{what} preference version {version.name} ({version.content_hash}): train "
                                f"{counts['train']}, validation {counts['validation']}, test {counts['test']} "
                                f"({sources}).{identical} Train it with DPO on the Train tab.", "ok"),
                **versions_updates(picked)}

    inputs = [project, min_agreeing, include_judge, min_kappa]
    count_button.click(guard("datasets", on_count), inputs, notice, api_name="count_preferences")
    freeze_button.click(guard("datasets", on_freeze), inputs + [name, split, pairs_file], [notice, *versions_outputs],
                        api_name="freeze_preferences", concurrency_limit=1, concurrency_id="store-writes")
