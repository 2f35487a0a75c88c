"""Tables, charts and words of the Results tab, from the Results `report.full_results` returns (the same figures
`ftstudio report --json` prints). Every user or model text goes through escape() or into a Dataframe cell."""

from __future__ import annotations

import pandas as pd

from ftstudio.evaluation.results import BreakdownRow, LengthControlled, Results, RunComparison
from ftstudio.ui.format import escape, message
from ftstudio.wording import plural

WIN_COLUMNS = ["system", "against", "wins", "losses", "ties", "both bad", "win rate", "95% interval"]
JUDGE_COLUMNS = ["system", "against", "wins", "losses", "ties", "win rate", "95% interval",
                 "at equal length", "95% interval (equal length)"]
BT_COLUMNS = ["system", "rating", "95% interval", "matches"]
BREAKDOWN_COLUMNS = ["value", "votes", "wins", "losses", "ties", "win rate", "95% interval"]
CONFUSION_COLUMNS = ["people said", "judge: first system", "judge: second system", "judge: tie"]
LENGTH_COLUMNS = ["who", "decisive verdicts", "longer answer wins"]
GRADE_COLUMNS = ["system", "graded", "mean grade (1-10)", "95% interval"]
DISAGREE_COLUMNS = ["gap", "input", "first system", "first answer", "second system", "second answer", "people",
                    "judge (in order / swapped)", "judge's reasoning"]
METRIC_COLUMNS = {"label": "system", "split": "split", "with_reference": "with reference", "exact_match": "exact match",
                  "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "bleu": "BLEU",
                  "accuracy": "accuracy", "macro_f1": "macro-F1", "json_valid": "valid JSON",
                  "schema_valid": "fits schema", "perplexity": "perplexity of reference",
                  "similarity": "semantic similarity"}
EMPTY_METRIC_COLUMNS = [METRIC_COLUMNS[key] for key in ("label", "split", "with_reference")]  # before any metric
COMPARE_COLUMNS = {"label": "run", "human_votes": "votes", "human_win_rate": "human win rate vs base",
                   "human_interval": "95% interval", "judge_win_rate": "judge win rate vs base",
                   "judge_interval": "95% interval (judge)", "judge_lc_win_rate": "judge, equal length",
                   "judge_kappa": "judge-people kappa", "rougeL": "ROUGE-L", "bleu": "BLEU", "accuracy": "accuracy",
                   "perplexity": "perplexity", "similarity": "similarity"}


def percent(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def interval(low, high, percent_scale=True) -> str:
    if low is None or high is None:
        return "–"
    return f"{low:.0%} – {high:.0%}" if percent_scale else f"{low:.0f} – {high:.0f}"


def _number(value, digits=3) -> str:
    """A figure for people: `digits` significant digits, never scientific notation (a BLEU of 1.9e-18 is 0.000)."""
    if value is None:
        return "–"
    if not isinstance(value, float):
        return str(value)
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    if abs(value) < 10 ** -digits:
        return f"{0.0:.{digits}f}"
    return f"{value:.{digits}g}"


# --- human votes -------------------------------------------------------------------------


def win_frame(results: Results) -> pd.DataFrame:
    labels = results.labels
    return pd.DataFrame([[labels[e.system], labels[e.against], e.wins, e.losses, e.ties, e.both_bad,
                          percent(e.win_rate), interval(e.ci_low, e.ci_high)]
                         for e in results.human.values()], columns=WIN_COLUMNS)


def win_chart(results: Results):
    """Each pair's win rate as a bar with its 95% interval, people and judge side by side, against the 50% line."""
    import plotly.graph_objects as go

    labels = results.labels
    judge = results.judge.win_rates if results.judge else {}
    keys = [k for k, e in results.human.items()
            if e.win_rate is not None or (judge.get(k) is not None and judge[k].win_rate is not None)]
    names = [f"{labels[results.human[k].system]}<br>vs {labels[results.human[k].against]}" for k in keys]
    figure = go.Figure()
    for source, entries, color in (("people", results.human, "#6366f1"), ("judge", judge, "#f59e0b")):
        shown = [(name, entries.get(k)) for name, k in zip(names, keys)
                 if entries.get(k) and entries[k].win_rate is not None]
        if not shown:
            continue
        figure.add_trace(go.Bar(
            name=source, x=[e.win_rate for _, e in shown], y=[n for n, _ in shown], orientation="h",
            marker_color=color, hovertemplate="%{x:.0%}<extra>" + source + "</extra>",
            error_x={"type": "data", "symmetric": False, "array": [e.ci_high - e.win_rate for _, e in shown],
                     "arrayminus": [e.win_rate - e.ci_low for _, e in shown], "color": "#1e1b4b"}))
    figure.add_vline(x=0.5, line_dash="dash", line_color="#dc2626", annotation_text="50%: no difference",
                     annotation_position="top")
    figure.update_layout(title="Win rate over decisive verdicts, with 95% intervals", barmode="group",
                         height=140 + 90 * max(1, len(keys)), margin={"l": 20, "r": 20, "t": 70, "b": 40},
                         template="plotly_white", xaxis={"range": [0, 1], "tickformat": ".0%"},
                         yaxis={"automargin": True}, legend={"orientation": "h", "y": -0.2})
    return figure


def bradley_terry_frame(results: Results) -> pd.DataFrame:
    labels = results.labels
    return pd.DataFrame([[labels[row.system], "–" if row.rating is None else f"{row.rating:.0f}",
                          interval(row.ci_low, row.ci_high, percent_scale=False), row.matches]
                         for row in results.bradley_terry or []], columns=BT_COLUMNS)


def breakdown_frame(rows: list[BreakdownRow]) -> pd.DataFrame:
    return pd.DataFrame([[r.value, r.votes, r.wins, r.losses, r.ties + r.both_bad, percent(r.win_rate),
                          interval(r.ci_low, r.ci_high)] for r in rows],
                        columns=BREAKDOWN_COLUMNS)


def breakdown_chart(rows: list[BreakdownRow], field: str):
    import plotly.graph_objects as go

    rows = [r for r in rows if r.win_rate is not None]
    figure = go.Figure(go.Bar(
        x=[r.value for r in rows], y=[r.win_rate for r in rows], marker_color="#22c55e",
        error_y={"type": "data", "symmetric": False, "array": [r.ci_high - r.win_rate for r in rows],
                 "arrayminus": [r.win_rate - r.ci_low for r in rows]}))
    figure.add_hline(y=0.5, line_dash="dash", line_color="#dc2626")
    figure.update_layout(title=f"Win rate by {field}", height=320, template="plotly_white",
                         margin={"l": 40, "r": 20, "t": 60, "b": 40}, yaxis={"range": [0, 1], "tickformat": ".0%"})
    return figure


def verdict_markdown(results: Results) -> str:
    """The headline in words: what people said, what the judge said, and whether to trust the judge."""
    lines = []
    if results.votes:
        lines.append(f"**People:** {plural(results.votes, 'vote')} by "
                     f"{plural(len(results.reviewers), 'reviewer')}.")
        lines += [f"- {escape(entry.verdict)}" for entry in results.human.values()]
        reviewers = results.reviewer_agreement
        if reviewers.pairs:
            kappa = "–" if reviewers.kappa is None else f"{reviewers.kappa:.2f}"
            lines.append(f"- Reviewers agree on {reviewers.agreement:.0%} of the {plural(reviewers.pairs, 'pair')} "
                         f"rated by more than one of them "
                         f"({'Cohen' if reviewers.method == 'cohen' else 'Fleiss'}'s kappa {kappa}).")
    else:
        lines.append(message("No votes yet: vote on blind pairs on the Review tab.", "info"))
    if results.identical_pairs:
        lines.append(f"- {plural(results.identical_pairs, 'pair')} with word-for-word identical answers "
                     f"{'counts' if results.identical_pairs == 1 else 'count'} as ties (never put to reviewers).")
    judge = results.judge
    if judge and judge.win_rates:
        lines.append(f"\n**Judge** ({escape(judge.judge)}, prompt {escape(judge.prompt_version)}): "
                     f"{plural(judge.judged_pairs, 'pair')} judged in both orders.")
        lines += [f"- {escape(entry.verdict)}" for entry in judge.win_rates.values()]
    elif judge is None:
        same = (f" ({plural(results.identical_pairs, 'pair')} with identical answers need none: they are ties)"
                if results.identical_pairs else "")
        lines.append("\n" + message(f"No judge verdicts on these answers yet{same}: run a judge on the Judge tab.",
                                     "info"))
    agreement = results.agreement
    if agreement:
        lines.append(f"\n**Can the judge be trusted here?** {escape(agreement.meaning)}")
    return "\n".join(lines)


# --- the judge -----------------------------------------------------------------------------


def judge_frame(results: Results) -> pd.DataFrame:
    judge = results.judge
    labels = results.labels
    rows = []
    for key, entry in (judge.win_rates if judge else {}).items():
        controlled = judge.length_controlled.get(key)
        rows.append([labels[entry.system], labels[entry.against], entry.wins, entry.losses, entry.ties,
                     percent(entry.win_rate), interval(entry.ci_low, entry.ci_high), *_equal_length(controlled)])
    return pd.DataFrame(rows, columns=JUDGE_COLUMNS)


def _equal_length(controlled: LengthControlled | None) -> list[str]:
    """The length-controlled win rate and its interval; with verdicts but none decisive, there is no rate to read."""
    if controlled is None:
        return ["–", "–"]
    if controlled.lc_win_rate is None and controlled.n:
        return ["no decisive verdict", "–"]
    return [percent(controlled.lc_win_rate), interval(controlled.ci_low, controlled.ci_high)]


def judge_markdown(results: Results) -> str:
    judge = results.judge
    if not judge:
        return message("No judgments yet: run a judge on the Judge tab, or `ftstudio judge --run RUN`.", "info")
    lines = [f"**{escape(judge.judge)}**, prompt {escape(judge.prompt_version)}: "
             f"{plural(judge.judgments, 'judgment')}, {judge.invalid} unparseable, {judge.failed} failed."]
    if judge.position_consistency is not None:
        lines.append(f"- **Position consistency:** the same verdict with the answers swapped on "
                     f"{judge.position_consistency:.0%} of pairs (a verdict that flips counts as a tie; GPT-4 kept "
                     "65% on MT-Bench).")
    bias = judge.length_bias
    if bias and bias.judge.longer_wins is not None:
        people = bias.humans.longer_wins
        lines.append(f"- **Length:** the longer answer wins {bias.judge.longer_wins:.0%} of the judge's decisive "
                     f"verdicts" + (f", against {people:.0%} of people's votes." if people is not None else "."))
    return "\n".join(lines)


def grades_frame(results: Results) -> pd.DataFrame:
    single = results.judge.single if results.judge else None
    labels = results.labels
    return pd.DataFrame([[labels.get(r.system, r.system), r.graded, _number(r.mean, 2),
                          "–" if r.ci_low is None else f"{r.ci_low:.1f} – {r.ci_high:.1f}"]
                         for r in (single.systems if single else [])], columns=GRADE_COLUMNS)


def confusion_frame(results: Results) -> pd.DataFrame:
    agreement = results.agreement
    if not agreement:
        return pd.DataFrame(columns=CONFUSION_COLUMNS)
    words = {"a": "first system better", "b": "second system better", "tie": "tie or both bad"}
    return pd.DataFrame([[words[h]] + [agreement.confusion[h][j] for j in ("a", "b", "tie")]
                         for h in ("a", "b", "tie")], columns=CONFUSION_COLUMNS)


def agreement_markdown(results: Results) -> str:
    agreement = results.agreement
    if not agreement:
        return message("Agreement needs votes and judgments on the same pairs.", "info")
    kappa = ("–" if agreement.kappa is None else
             f"{agreement.kappa:.2f} (95% interval {agreement.kappa_ci_low:.2f} – {agreement.kappa_ci_high:.2f})")
    return "\n".join([
        f"On **{plural(agreement.votes, 'vote')}** that the judge also judged:",
        f"- agreement, ties counted: **{percent(agreement.agreement)}**",
        f"- agreement where both picked a side: **{percent(agreement.agreement_without_ties)}** "
        f"({plural(agreement.decisive_votes, 'vote')})",
        f"- Cohen's kappa: **{kappa}**",
        f"\n{escape(agreement.meaning)}"])


def length_frame(results: Results) -> pd.DataFrame:
    bias = results.judge.length_bias if results.judge else None
    if not bias:
        return pd.DataFrame(columns=LENGTH_COLUMNS)
    return pd.DataFrame([[who, share.decisive, percent(share.longer_wins)]
                         for who, share in (("judge", bias.judge), ("people", bias.humans))], columns=LENGTH_COLUMNS)


def disagreement_frame(results: Results) -> pd.DataFrame:
    return pd.DataFrame([[f"{row.gap:.2f}", row.input, row.system_a, row.output_a, row.system_b, row.output_b,
                          row.people, f"{row.judge} ({row.judge_orders})", row.judge_reason]
                         for row in results.disagreements], columns=DISAGREE_COLUMNS)


# --- metrics and runs side by side ---------------------------------------------------------


def metrics_frame(results: Results) -> pd.DataFrame:
    rows = results.metrics or []
    shown = [key for key in METRIC_COLUMNS if key in ("label", "split", "with_reference")
             or any(row.get(key) is not None for row in rows)]
    # The project's own evaluate modules (metric_modules): their columns after the studio's, as they named them.
    own = list(dict.fromkeys(key for row in rows for key in (row.get("user_metrics") or {})))
    return pd.DataFrame([[_number(row.get(key)) if key not in ("label", "split") else row[key] for key in shown]
                         + [_number((row.get("user_metrics") or {}).get(key)) for key in own]
                         for row in rows], columns=[METRIC_COLUMNS[key] for key in shown] + own)


def compare_frame(rows: list[RunComparison]) -> pd.DataFrame:
    table = []
    for row in rows:
        human_ci, judge_ci = row.human_ci or [None, None], row.judge_ci or [None, None]
        values = {"label": f"run {row.run} ({row.method} on {row.version or 'an imported version'})",
                  "human_votes": row.human_votes, "human_win_rate": percent(row.human_win_rate),
                  "human_interval": interval(*human_ci), "judge_win_rate": percent(row.judge_win_rate),
                  "judge_interval": interval(*judge_ci), "judge_lc_win_rate": percent(row.judge_lc_win_rate),
                  "judge_kappa": _number(row.judge_kappa, 2)}
        values.update({key: _number(getattr(row, key)) for key in ("rougeL", "bleu", "accuracy", "perplexity",
                                                                   "similarity")})
        table.append([values[key] for key in COMPARE_COLUMNS])
    return pd.DataFrame(table, columns=list(COMPARE_COLUMNS.values()))


# --- every panel at once, each on its own -------------------------------------------------


def guarded_panel(compute, fallback):
    """compute(), or, when it fails, `fallback(error)`: one failing panel shows its own message and leaves the
    other panels standing."""
    try:
        return compute()
    except Exception as error:  # noqa: BLE001 -- whatever broke, the rest of the page must still show
        return fallback(error)


def _failed_text(error: Exception) -> str:
    return message(f"This part could not be computed ({type(error).__name__}: {error}). The other panels are "
                   "unaffected; please report it.", "error")


def _failed_frame(error: Exception) -> pd.DataFrame:
    return pd.DataFrame({"could not be computed": [f"{type(error).__name__}: {error}"]})


def panels(results: Results, report_fields) -> dict:
    """Every panel of the Results tab from one computation, by the name of its widget (ResultsWidgets)."""
    import gradio as gr

    many = results.bradley_terry is not None
    has_chart = results.votes or (results.judge and results.judge.judged_pairs)
    single = bool(results.judge and results.judge.single)
    headline = guarded_panel(lambda: verdict_markdown(results), _failed_text)
    if results.errors:
        headline += "\n\n" + "\n".join(message(f"{panel.replace('_', ' ')} could not be computed: {error}", "error")
                                        for panel, error in results.errors.items())
    return {"verdict": headline,
            "chart": guarded_panel(lambda: win_chart(results) if has_chart else None, lambda error: None),
            "win_table": guarded_panel(lambda: win_frame(results), _failed_frame),
            "bradley_terry_group": gr.update(visible=many),
            "bt_table": guarded_panel(lambda: bradley_terry_frame(results) if many
                                      else pd.DataFrame(columns=BT_COLUMNS), _failed_frame),
            "judge_summary": guarded_panel(lambda: judge_markdown(results), _failed_text),
            "judge_table": guarded_panel(lambda: judge_frame(results), _failed_frame),
            "grades_table": gr.update(value=guarded_panel(lambda: grades_frame(results), _failed_frame),
                                      visible=single),
            "agreement_text": guarded_panel(lambda: agreement_markdown(results), _failed_text),
            "confusion_table": guarded_panel(lambda: confusion_frame(results), _failed_frame),
            "length_table": guarded_panel(lambda: length_frame(results), _failed_frame),
            "disagreement_table": guarded_panel(lambda: disagreement_frame(results), _failed_frame),
            "metrics_table": guarded_panel(lambda: metrics_frame(results), _failed_frame),
            "field": gr.update(choices=guarded_panel(report_fields, lambda error: []))}


def empty_panels(note: str) -> dict:
    """The panels with nothing to show but `note`, by the name of their widget."""
    import gradio as gr

    return {"verdict": message(note, "info"), "chart": None, "win_table": pd.DataFrame(columns=WIN_COLUMNS),
            "bradley_terry_group": gr.update(visible=False), "bt_table": pd.DataFrame(columns=BT_COLUMNS),
            "judge_summary": "", "judge_table": pd.DataFrame(columns=JUDGE_COLUMNS),
            "grades_table": gr.update(visible=False), "agreement_text": "",
            "confusion_table": pd.DataFrame(columns=CONFUSION_COLUMNS),
            "length_table": pd.DataFrame(columns=LENGTH_COLUMNS),
            "disagreement_table": pd.DataFrame(columns=DISAGREE_COLUMNS), "metrics_table": pd.DataFrame(columns=EMPTY_METRIC_COLUMNS),
            "field": gr.update(choices=[])}
