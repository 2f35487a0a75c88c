"""The CLI's review commands: `generate` (the base model's answers, or every system's for review), `review`
(blind votes over standard input) and `report` (win rates with intervals). Thin over ftstudio.evaluation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ftstudio.cli.common import find_run as _run, open_studio as _open, print_result as _print
from ftstudio.cli.common import progress_bar as _progress_bar, settings_from as _settings
from ftstudio.evaluation.contestants import FEWSHOT_HELP
from ftstudio.store import StoreError

if TYPE_CHECKING:
    from ftstudio.evaluation.results import JudgeSummary, Results




def cmd_generate(args) -> int:
    settings = _settings(args)
    if not args.run:
        if not args.prompts:
            raise StoreError("Give one or more prompts, or --run RUN to generate for review.")
        from ftstudio.models import generate_text, load_model, load_tokenizer

        settings.ensure_dirs()
        tokenizer = load_tokenizer(settings.base_model, settings.model_cache)
        model = load_model(settings.base_model, settings.model_cache)
        for answer in generate_text(model, tokenizer, args.prompts, args.max_new_tokens):
            print(answer)
        return 0
    from ftstudio.evaluation.compare import compare_run
    from ftstudio.evaluation.generations import DecodingSettings, read_prompt_file
    from ftstudio.evaluation.jobs import SubprocessBackend
    from ftstudio.evaluation.systems import system_names

    store = _open(settings)
    run = _run(store, args.run)
    prompts = list(args.prompts or [])
    for path in args.prompts_file or []:
        prompts += read_prompt_file(Path(path))
    decoding = DecodingSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                                seed=args.seed, batch_size=args.batch_size)
    backend = SubprocessBackend(settings.home / "generations", args.backend)
    # A DPO run: against the run it started from and the base model; no run on prompts it trained on.
    comparison = compare_run(store, settings, run, system_names(args.systems), args.split, prompts or None,
                             decoding=decoding, backend=backend, on_progress=_progress_bar)
    batch = comparison.batch
    if sys.stderr.isatty():
        print(file=sys.stderr)
    lines = [f"{batch.created} outputs generated, {batch.reused} reused ({batch.state}); review {batch.review.id} "
             f"compares {', '.join(batch.systems)}: `ftstudio review --run {run.id} --user NAME`."]
    lines += comparison.notes()
    lines += [f"Failed (a rerun asks again): {failure}" for failure in batch.failed]
    _print(comparison.to_dict(), args.json, "\n".join(lines))
    return 0


def cmd_review(args) -> int:
    """Blind review in the terminal, over the same queue as the Review tab: one vote per line on standard input."""
    from ftstudio.evaluation import review as reviewing
    from ftstudio.evaluation.systems import EvaluationError

    store = _open(_settings(args))
    run = _run(store, args.run)
    review = reviewing.latest_review(store, run)
    if review is None:
        raise StoreError(f"Run {run.id} has nothing to review yet: `ftstudio generate --run {run.id}` first.")
    from ftstudio.evaluation.compare import identical_sentence, review_queue

    identical = len(review_queue(store, review).identical)
    if identical:
        print(identical_sentence(identical))
    voted, last_rating = 0, None
    while True:
        pair = reviewing.next_pair(store, review, args.user)
        if pair is None:
            print(f"Nothing left for {args.user} in this review ({voted} voted now).")
            if last_rating is None or not _last_corrections(store, last_rating, args.user):
                return 0
            continue
        counts = pair.progress
        print("\n" + "=" * 72 + f"\nPair {counts['mine'] + 1} for you · {counts['left']} of {counts['pairs']} "
              f"pairs still open\n\nINPUT\n{pair.input}\n")
        if pair.reference:
            print(f"REFERENCE\n{pair.reference}\n")
        print(f"--- A ---\n{pair.answer_a}\n\n--- B ---\n{pair.answer_b}\n")
        print("[a] A better  [b] B better  [t] tie  [x] both bad  [c] correct the last answer  [q] quit: ", end="",
              flush=True)
        line = sys.stdin.readline()
        action = line.strip().lower()
        if not line or action == "q":
            print()
            return 0
        if action == "c":
            print("\n" + _correct(store, last_rating, args.user, sys.stdin.readline()))
            continue
        try:
            revealed = reviewing.vote(store, pair.token, args.user, action)
        except EvaluationError as error:
            print(f"\nNot saved: {error}")
            continue
        voted, last_rating = voted + 1, revealed.rating_id
        print("\n" + revealed.message)  # the reveal alone on its line: scripts read who won from it
        print("To correct the better answer (or write the right one), type c, then the right answer on one line.")


def _correct(store, rating_id, user: str, line: str) -> str:
    """A correction of the pair voted on last: the line after `c` becomes an accepted example."""
    from ftstudio.evaluation.corrections import correct_answer
    from ftstudio.evaluation.systems import EvaluationError

    try:
        saved = correct_answer(store, rating_id, user, line.strip())
    except EvaluationError as error:
        return f"Not saved: {error}"
    return (f"Correction saved as accepted example {saved.example_id} (it corrects {', '.join(saved.systems)}); "
            "the next freeze includes it.")


def _last_corrections(store, rating_id, user: str) -> bool:
    """With the queue done: `c` and a line corrects the last vote's answer; anything else ends. True: go on."""
    print("[c] correct the last answer  [q] quit: ", end="", flush=True)
    if sys.stdin.readline().strip().lower() != "c":
        print()
        return False
    print("\n" + _correct(store, rating_id, user, sys.stdin.readline()))
    return True


def cmd_report(args) -> int:
    from ftstudio.evaluation import report
    from ftstudio.evaluation.results import Breakdown
    from ftstudio.evaluation.review import latest_review, preference_data_note

    from ftstudio.training.classification_results import classification_entry

    store = _open(_settings(args))
    run = _run(store, args.run)
    review = latest_review(store, run)
    classification = classification_entry(run)
    if review is None and classification is not None:  # a classifier is measured on its test split, no votes needed
        _print({"run": run.id, "classification": classification}, args.json,
               "\n".join([f"Run {run.id} ({run.method}), no review yet"] + classification_lines(classification)))
        return 0
    if review is None and args.weights:  # the weight check needs no data, and no review
        weights = _weights(run, args)
        _print({"run": run.id, "weights": weights}, args.json, f"Run {run.id}, no review yet; weights (WeightWatcher "
               f"alpha, mean over layers): base {weights['base_mean_alpha']:.2f}, tuned {weights['tuned_mean_alpha']:.2f}")
        return 0
    if review is None:
        raise StoreError(f"Run {run.id} has no review yet: `ftstudio generate --run {run.id}`, then vote.")
    results = report.full_results(store, review)
    if classification is not None:
        results.classification = classification
    if args.compare:
        runs = [run] + [_run(store, name.strip()) for name in args.compare.split(",") if name.strip()]
        results.comparison = report.compare_runs(store, runs)
    if args.by:
        results.breakdown = Breakdown(args.by, report.breakdown(store, review, args.by))
    if args.export:
        out = Path(args.export)
        results.exports = [str(report.export_ratings(store, review, out, "csv")),
                              str(report.export_ratings(store, review, out, "parquet")),
                              str(report.export_preferences(store, review, out)[0])]
    lines = [f"Run {run.id}: review {review.id}, {results.votes} votes by {len(results.reviewers)} reviewer(s)"]
    if review.split == "train":
        lines.append(f"  {preference_data_note(review)}")
    if results.identical_pairs:
        lines.append(f"  {results.identical_pairs} pair(s) with word-for-word identical answers count as ties")
    for entry in results.human.values():
        rate = _rate(entry.win_rate, entry.ci_low, entry.ci_high)
        lines.append(f"  {entry.system} vs {entry.against}: {entry.wins} wins, {entry.losses} losses, "
                     f"{entry.ties} ties, {entry.both_bad} both bad · win rate {rate}\n    {entry.verdict}")
    for row in results.bradley_terry or []:
        if row.rating is not None:
            lines.append(f"  Bradley-Terry {row.system}: {row.rating:.0f} [{row.ci_low:.0f}, {row.ci_high:.0f}]")
    lines += report_lines(results)
    lines += [f"  {panel} could not be computed: {error}" for panel, error in results.errors.items()]
    if classification is not None:
        lines += classification_lines(classification)
    from ftstudio.evaluation.costs import cost_text, review_costs

    results.costs = review_costs(store, review, _settings(args).machine_price_per_hour)
    lines += [f"  {name} ({cost.kind}): {cost.answers} answers, latency median {cost.latency_ms_median} ms, "
              f"cost per 1,000 answers {cost_text(cost)}" for name, cost in results.costs.items()]
    payload = results.to_dict()
    payload["weights"] = _weights(run, args)
    if payload["weights"]:
        lines.append(f"  weights (WeightWatcher alpha, mean over layers): base {payload['weights']['base_mean_alpha']:.2f}"
                     f", tuned {payload['weights']['tuned_mean_alpha']:.2f}")
    _print(payload, args.json, "\n".join(lines))
    return 0


def _weights(run, args) -> dict | None:
    """The run's data-free weight check: computed with --weights (once, cached in the run folder), else as cached."""
    from ftstudio.evaluation.weights import cached_weights, check_weights
    from ftstudio.models import materialize

    if not args.weights:
        return cached_weights(run)
    settings = _settings(args)
    return check_weights(run, materialize(run.base_model, settings.model_cache))


def classification_lines(entry: dict) -> list[str]:
    lines = [f"  {entry['split']} split, {entry['examples']} examples: accuracy {entry['accuracy']:.3f}, "
             f"macro-F1 {entry['macro_f1']:.3f}"]
    for label, scores in (entry.get("per_class") or {}).items():
        lines.append(f"    {label}: precision {scores['precision']:.3f}, recall {scores['recall']:.3f}, "
                     f"support {scores['support']}")
    confusion = entry.get("confusion") or {}
    if confusion.get("matrix"):
        lines.append("    confusion (rows: true, columns: predicted " + ", ".join(confusion["labels"]) + "): "
                     + "; ".join(" ".join(str(n) for n in row) for row in confusion["matrix"]))
    return lines


def _rate(rate: float | None, low: float | None, high: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%} [{low:.0%}, {high:.0%}]"


def _judge_lines(judge: JudgeSummary) -> list[str]:
    lines = [f"Judge {judge.judge} (prompt {judge.prompt_version}): {judge.judgments} judgments, "
             f"{judge.invalid} invalid, {judge.failed} failed"]
    if judge.position_consistency is not None:
        lines.append(f"  same verdict in both orders: {judge.position_consistency:.0%} of pairs")
    for key, entry in judge.win_rates.items():
        controlled = judge.length_controlled.get(key)
        if controlled is None:
            equal = "-"
        elif controlled.lc_win_rate is None and controlled.n:
            equal = "no decisive verdict"
        else:
            equal = _rate(controlled.lc_win_rate, controlled.ci_low, controlled.ci_high)
        lines.append(f"  {key}: judge win rate {_rate(entry.win_rate, entry.ci_low, entry.ci_high)}; "
                     f"at equal length {equal}")
    bias = judge.length_bias
    if bias and bias.judge.longer_wins is not None:
        people = bias.humans.longer_wins
        lines.append(f"  the longer answer wins {bias.judge.longer_wins:.0%} of the judge's decisive verdicts"
                     + (f", {people:.0%} of people's" if people is not None else ""))
    return lines


def report_lines(results: Results) -> list[str]:
    """The judge, its agreement with people, and the metrics, in words for the terminal."""
    lines = _judge_lines(results.judge) if results.judge else []
    agreement = results.agreement
    if agreement:
        kappa = "-" if agreement.kappa is None else (f"{agreement.kappa:.2f} [{agreement.kappa_ci_low:.2f}, "
                                                     f"{agreement.kappa_ci_high:.2f}]")
        with_ties = "-" if agreement.agreement is None else f"{agreement.agreement:.0%}"
        lines.append(f"Judge vs people on {agreement.votes} votes: agreement {with_ties}, Cohen's kappa {kappa}\n"
                     f"  {agreement.meaning}")
    for row in results.metrics:
        shown = ", ".join(f"{name} {row[name]:.3g}" for name in ("rougeL", "bleu", "exact_match", "accuracy",
                                                                 "macro_f1", "json_valid", "perplexity", "similarity")
                          if row.get(name) is not None)
        if shown:
            lines.append(f"Metrics {row['system']} ({row['split']}): {shown}")
    return lines


def register(commands) -> None:
    gen = commands.add_parser("generate", help="Generate answers: the base model's, or every system's for review.",
                              description="Without --run: greedy chat completions of PROMPTS from the base model. "
                              "With --run: the outputs of the base model and the run (and any --systems) on the test "
                              "split (or PROMPTS / --prompts-file), in a child process, stored for blind review.")
    gen.add_argument("prompts", nargs="*", help="Prompts (with --run: instead of a split).")
    gen.add_argument("--run", help="Run id (or folder name) whose template and test split to use.")
    gen.add_argument("--split", default="test", choices=["test", "validation", "train"],
                     help="Split to answer; train: answers to vote on for preference data (DPO) [test].")
    gen.add_argument("--systems", help="Comma-separated systems: base, run ids, reference, fewshot[:K], NAME, "
                     "NAME+fewshot [this run,base]. " + FEWSHOT_HELP)
    gen.add_argument("--prompts-file", action="append", help="Prompts from a .txt, .md, .jsonl or .csv (repeatable).")
    gen.add_argument("--max-new-tokens", type=int, default=128, help="Longest answer, in tokens [128].")
    gen.add_argument("--temperature", type=float, default=0.0, help="0 decodes greedily; above 0 samples [0].")
    gen.add_argument("--top-p", type=float, default=1.0, help="Sampling: nucleus probability [1.0].")
    gen.add_argument("--seed", type=int, default=0, help="Sampling: seed [0].")
    gen.add_argument("--batch-size", type=int, default=0, help="Prompts per batch; 0 picks by device [0].")
    gen.add_argument("--backend", default="auto", choices=["auto", "transformers", "vllm"],
                     help="auto: vLLM when installed on a GPU host, else transformers [auto].")
    gen.add_argument("--json", action="store_true", help="Print {systems, generations: [...]} as JSON.")
    gen.set_defaults(func=cmd_generate)

    rev = commands.add_parser("review", help="Blind side-by-side review in the terminal.",
                              description="Vote on pairs of answers labeled only A and B: one vote per line on "
                              "standard input (a, b, t tie, x both bad, q quit). Systems are named after each vote; then "
                              "c followed by a line of text corrects the better answer (or, both bad, gives the right "
                              "one): it becomes an accepted example of the project.")
    rev.add_argument("--run", required=True, help="Run id whose latest review to vote on.")
    rev.add_argument("--user", required=True, help="Your name: each reviewer has their own queue.")
    rev.set_defaults(func=cmd_review)

    rep = commands.add_parser("report", help="Win rates with 95%% intervals, the judge, and metrics.",
                              description="Per pair of systems: wins, losses, ties, both bad, the win rate over "
                              "decisive votes with its bootstrap interval, and a verdict; Bradley-Terry scores for "
                              "more than two systems; the judge's verdicts, how far it agrees with people, and the "
                              "automatic metrics.")
    rep.add_argument("--run", required=True, help="Run id whose latest review to report.")
    rep.add_argument("--by", help="Break the first pair's win rate down by an item field (label, kind, ...).")
    rep.add_argument("--export", metavar="DIR", help="Also write ratings (CSV, Parquet) and DPO preference pairs.")
    rep.add_argument("--weights", action="store_true", help="Also check the run's weights without data (WeightWatcher: "
                     "each layer's alpha, merged beside the base); computed once, then kept in the run folder.")
    rep.add_argument("--compare", metavar="RUNS", help="Other runs to put side by side with this one, comma-separated.")
    rep.add_argument("--json", action="store_true", help="Print JSON: \"human\" per pair of systems, \"judge\", "
                     "\"agreement\" (judge vs people) and \"metrics\"; \"corrections\" {SYSTEM: N} once reviewers "
                     "corrected answers; for classifier runs \"classification\" "
                     "(accuracy, macro_f1, per_class, confusion on the test split).")
    rep.set_defaults(func=cmd_report)
