"""Charts of a run's training curves (plotly figures for gr.Plot)."""

from __future__ import annotations

REWARD_CURVES = {"rewards/margins": "reward margin", "rewards/accuracies": "reward accuracy",
                 "rewards/chosen": "reward of chosen", "rewards/rejected": "reward of rejected"}


def curve_figure(named_curves: list[tuple[str, dict]]):
    """Train and validation loss by step, one pair of lines per named run."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, curve in named_curves:
        if curve["train"]:
            steps, losses = zip(*curve["train"])
            figure.add_trace(go.Scatter(x=steps, y=losses, mode="lines", name=f"{name} train"))
        if curve["eval"]:
            steps, losses = zip(*curve["eval"])
            figure.add_trace(go.Scatter(x=steps, y=losses, mode="lines+markers", name=f"{name} validation"))
        if curve.get("perplexity"):  # CPT: the validation loss as perplexity, on its own axis
            steps, values = zip(*curve["perplexity"])
            figure.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", line={"dash": "dot"}, yaxis="y2",
                                        name=f"{name} validation perplexity"))
    if any(curve.get("perplexity") for _, curve in named_curves):
        figure.update_layout(yaxis2={"title": "perplexity", "overlaying": "y", "side": "right"})
    figure.update_layout(height=340, margin={"l": 60, "r": 20, "t": 50, "b": 50}, xaxis_title="step",
                         yaxis_title="loss", template="plotly_white", legend={"orientation": "h"})
    return figure


def _reward_label(key: str) -> str:
    """A curve's name: DPO's in words, GRPO's total as the mean reward, each of its rewards by name."""
    if key in REWARD_CURVES:
        return REWARD_CURVES[key]
    return "mean reward (sum)" if key == "reward" else key.split("/")[1]


def rewards_figure(curve: dict):
    """DPO's curves (how far the chosen answers' reward is above the rejected ones', and how often it is), or GRPO's
    (the mean reward per step, and each reward's mean)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    found = curve.get("rewards", {})
    for key in [*REWARD_CURVES, *(key for key in found if key not in REWARD_CURVES)]:
        points = found.get(key)
        if points:
            steps, values = zip(*points)
            figure.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=_reward_label(key)))
    title = "reward (log-ratio × beta)" if any(key in found for key in REWARD_CURVES) else "reward (0 to 1 each)"
    figure.update_layout(height=300, margin={"l": 60, "r": 20, "t": 40, "b": 50}, xaxis_title="step",
                         yaxis_title=title, template="plotly_white", legend={"orientation": "h"})
    return figure
