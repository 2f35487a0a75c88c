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


def rewards_figure(curve: dict):
    """DPO's curves: how far the chosen answers' reward is above the rejected ones', and how often it is."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for key, label in REWARD_CURVES.items():
        points = curve.get("rewards", {}).get(key)
        if points:
            steps, values = zip(*points)
            figure.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=label))
    figure.update_layout(height=300, margin={"l": 60, "r": 20, "t": 40, "b": 50}, xaxis_title="step",
                         yaxis_title="reward (log-ratio × beta)", template="plotly_white", legend={"orientation": "h"})
    return figure
