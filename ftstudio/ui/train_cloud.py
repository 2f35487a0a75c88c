"""The Train tab's "Run on: this machine | a cloud GPU (SkyPilot)": the GPUs, the price SkyPilot's catalog lists,
and the start of a run on a cloud GPU (training/cloud_runs.py). The run then shows in the runs table like any
other: its curve grows as the folder syncs back."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftstudio.models import ModelError
from ftstudio.store import StoreError
from ftstudio.training.cloud_runs import start_cloud_run
from ftstudio.training.config import TrainConfig
from ftstudio.training.prepare import RunError
from ftstudio.training.skypilot import DEFAULT_AUTOSTOP_MINUTES, CloudError, CloudLaunch, hourly_cost
from ftstudio.ui.format import message

RUN_ON = ("this machine", "a cloud GPU (SkyPilot)")


@dataclass
class CloudPanel:
    run_on: gr.Radio
    panel: gr.Group
    gpus: gr.Textbox
    cloud: gr.Textbox
    price: gr.Markdown
    start: gr.Button


def layout_cloud_panel() -> CloudPanel:
    run_on = gr.Radio(list(RUN_ON), value=RUN_ON[0], label="Run on", elem_id="train-run-on",
                      info="A cloud GPU: SkyPilot finds one on the clouds your credentials enable (README: cloud GPUs)")
    with gr.Group(visible=False, elem_id="train-cloud") as panel:
        with gr.Row():
            gpus = gr.Textbox("L4:1", label="GPUs (NAME:COUNT)", elem_id="train-cloud-gpus")
            cloud = gr.Textbox("", label="Cloud (empty: the cheapest enabled)", placeholder="aws, gcp, runpod, ...")
        price = gr.Markdown(elem_id="train-cloud-price")
        start = gr.Button("Start on a cloud GPU", variant="primary", elem_id="train-cloud-start")
    return CloudPanel(run_on, panel, gpus, cloud, price, start)


class CloudHandlers:
    def __init__(self, panel: CloudPanel, manager, setting_fields: tuple[str, ...], notice, run_pick, local_start):
        self.panel, self.manager, self.fields = panel, manager, setting_fields
        self.notice, self.run_pick, self.local_start = notice, run_pick, local_start

    def chosen(self, run_on, gpus, cloud):
        """Show the cloud panel (and the price per hour, when SkyPilot can say) in place of the local start."""
        on_cloud = run_on == RUN_ON[1]
        price = ""
        if on_cloud:
            cost = hourly_cost(gpus or "L4:1", cloud or None)
            price = (f"About **${cost[0]:.2f} per hour** ({cost[1]}), from SkyPilot's catalog; the cluster is taken "
                     f"down after {DEFAULT_AUTOSTOP_MINUTES} idle minutes." if cost else
                     "SkyPilot could not say the price here (not installed, or no catalog yet): `sky show-gpus`.")
        return {self.panel.panel: gr.update(visible=on_cloud), self.panel.price: price,
                self.local_start: gr.update(visible=not on_cloud)}

    def start(self, caller, picked, version_name, objective_value, method_value, gpus, cloud, *values):
        try:
            if picked is None:
                raise StoreError("Pick a project on the Data tab first.")
            config = TrainConfig.from_dict({"objective": objective_value, "method": method_value,
                                            **dict(zip(self.fields, values))})
            defaults = TrainConfig().to_dict()
            for name, default in defaults.items():  # gr.Number gives floats, as in the local start
                if isinstance(default, int) and not isinstance(default, bool) and getattr(config, name) is not None:
                    setattr(config, name, int(getattr(config, name)))
            launch = CloudLaunch(gpus=(gpus or "").strip(), cloud=(cloud or "").strip() or None)
            run_id = start_cloud_run(self.manager, picked, version_name or "", config, launch, caller.name)
        except (StoreError, RunError, ModelError, CloudError, ValueError) as error:
            return {self.notice: message(str(error), "error"), self.run_pick: gr.update()}
        return {self.notice: message(f"Run {run_id} goes to a cloud GPU ({launch.gpus}): the curve follows as the "
                                     "folder syncs back; Cancel takes the cluster down.", "ok"),
                self.run_pick: gr.update(value=str(run_id))}


def wire_cloud_panel(panel: CloudPanel, guard, handlers: CloudHandlers, project, train_inputs: list,
                     refresh, refresh_inputs: list, refresh_outputs: list) -> None:
    """`train_inputs`: version, objective, method; then the setting widgets (as the local start takes them)."""
    hidden = {"api_visibility": "undocumented"}
    for event in (panel.run_on.change, panel.gpus.submit):
        event(guard("train", handlers.chosen, project=False, quiet=True), [panel.run_on, panel.gpus, panel.cloud],
              [panel.panel, panel.price, handlers.local_start], **hidden)
    version, objective, method, *settings = train_inputs
    panel.start.click(guard("train", handlers.start),
                      [project, version, objective, method, panel.gpus, panel.cloud, *settings],
                      [handlers.notice, handlers.run_pick], api_name="train_cloud", concurrency_limit=1,
                      concurrency_id="store-writes").then(refresh, refresh_inputs, refresh_outputs, **hidden)
