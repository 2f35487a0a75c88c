"""The Train tab's settings form: one widget per TrainConfig field, placed and labeled by the field's metadata, and
the TrainConfig the widgets describe."""

from __future__ import annotations

from dataclasses import fields

import gradio as gr

from ftstudio.training.config import TrainConfig, settings_where

# Where each setting sits comes from TrainConfig's metadata: the main row, "More settings", the DPO panel.
MAIN_FIELDS, MORE_FIELDS, DPO_FIELDS = (settings_where(group=group) for group in ("main", "more", "dpo"))
SETTING_FIELDS = MAIN_FIELDS + MORE_FIELDS + DPO_FIELDS  # the /train endpoint's order after the objective and method
NO_START_RUN = ("none: a new adapter on the base model", 0)


def setting_widget(setting):
    """A setting's widget from its metadata: a dropdown of its choices, a checkbox, a number or a text box."""
    name, default, help_text = setting.name, setting.default, setting.metadata["help"]
    label = name.replace("_", " ")
    if name == "from_run":  # its choices are this project's finished runs, filled in when the project shows
        return gr.Dropdown([NO_START_RUN], value=0, label="start from run", info=help_text, elem_id="train-from-run")
    if setting.metadata.get("choices"):
        return gr.Dropdown(list(setting.metadata["choices"]), value=default, label=label, info=help_text)
    if isinstance(default, bool):
        return gr.Checkbox(value=default, label=label, info=help_text)
    if isinstance(default, int):
        return gr.Number(value=default, precision=0, label=label, info=help_text)
    if isinstance(default, float):
        return gr.Number(value=default, label=label, info=help_text)
    return gr.Textbox(value=default, label=label, info=help_text, max_lines=1)


def setting_rows(names: tuple[str, ...], per_row: int) -> dict:
    """Rows of setting widgets, `per_row` to a row, by field name."""
    by_name = {f.name: f for f in fields(TrainConfig)}
    widgets = {}
    for start in range(0, len(names), per_row):
        with gr.Row():
            widgets.update({name: setting_widget(by_name[name]) for name in names[start:start + per_row]})
    return widgets


def widget_config(objective_value, method_value, values) -> TrainConfig:
    """The TrainConfig the form's widgets describe (values in SETTING_FIELDS order), each field of its own type."""
    config = TrainConfig.from_dict({"objective": objective_value, "method": method_value,
                                    **dict(zip(SETTING_FIELDS, values))})
    for name, default in TrainConfig().to_dict().items():  # gr.Number gives floats; keep each field's own type
        value = getattr(config, name)
        if isinstance(default, int) and not isinstance(default, bool) and value is not None:
            setattr(config, name, int(value))
    return config
