"""The CLI's judge commands: `judge` (LLM-as-a-judge over a run's review), `judge-prompt` (see or version the
project's judge prompt), `judge-key` (save the endpoint's API key) and `metrics` (perplexity and similarity).
Thin over ftstudio.evaluation, as the Judge and Results tabs are."""

from __future__ import annotations

import getpass
import sys
from dataclasses import asdict
from pathlib import Path

from ftstudio.cli.common import add_project_option, find_run, open_studio, print_result
from ftstudio.cli.common import progress_bar, resolve_project, settings_from
from ftstudio.store import StoreError
from ftstudio.wording import plural


def _review_of(store, run):
    from ftstudio.evaluation.review import latest_review

    review = latest_review(store, run)
    if review is None:
        raise StoreError(f"Run {run.id} has no outputs to judge yet: `ftstudio generate --run {run.id}` first.")
    return review


def judge_payload(store, review, outcome) -> dict:
    """`ftstudio judge --json`: the run's counts, and the verdicts over everything judged so far."""
    from ftstudio.evaluation.verdicts import pairwise_summary, single_summary

    payload = asdict(outcome)
    payload["review"] = review.id
    summary = pairwise_summary(store, review) if outcome.mode == "pairwise" else None
    payload["position_consistency"] = summary["position_consistency"] if summary else None
    payload["wins"] = summary["wins"] if summary else {}
    payload["ties"] = summary["ties"] if summary else 0
    payload["win_rates"] = summary["win_rates"] if summary else {}
    payload["single"] = single_summary(store, review) if outcome.mode == "single" else None
    return payload


def cmd_judge(args) -> int:
    from ftstudio.evaluation.judging import judge_review, make_judge

    settings = settings_from(args)
    store = open_studio(settings)
    run = find_run(store, args.run)
    review = _review_of(store, run)
    judge = make_judge(settings, args.judge, args.judge_model, args.concurrency, args.timeout, args.retries)
    outcome = judge_review(store, review, judge, args.mode, user_name=args.user, retry_invalid=args.retry_invalid,
                           on_progress=lambda done, total: progress_bar(done, total, "judgments"))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    payload = judge_payload(store, review, outcome)
    lines = [f"{outcome.judgments} judgments by {outcome.judge} ({outcome.mode}, prompt {outcome.prompt_version}): "
             f"{outcome.requests} requests now, {outcome.cached} from the cache, {outcome.invalid} invalid, "
             f"{outcome.failed} failed{' (run again to retry them)' if outcome.failed else ''}."]
    from ftstudio.evaluation.compare import review_queue

    identical = outcome.same_answers + len(review_queue(store, review).identical)
    if identical:
        lines.append(f"{plural(identical, 'pair')} had the same words from both systems: skipped, counted as ties, "
                     "not sent to the judge.")
    if payload["position_consistency"] is not None:
        lines.append(f"Same verdict in both orders on {payload['position_consistency']:.0%} of pairs.")
    for name, wins in payload["wins"].items():
        lines.append(f"  {name}: {wins} wins")
    if outcome.mode == "pairwise":
        lines.append(f"  ties (or verdicts that flipped with the order): {payload['ties']}")
    for row in (payload["single"] or {}).get("systems", []):
        if row["mean"] is not None:
            lines.append(f"  {row['system']}: {row['mean']:.1f} / 10 [{row['ci_low']:.1f}, {row['ci_high']:.1f}] "
                         f"over {row['graded']}")
    print_result(payload, args.json, "\n".join(lines))
    return 0


def cmd_judge_prompt(args) -> int:
    from ftstudio.evaluation.judge_prompts import active_prompt, prompt_versions, save_prompt

    store = open_studio(settings_from(args))
    project = resolve_project(store, args.project)
    current = active_prompt(store, project, args.mode)
    if args.system_file or args.template_file or args.rubric is not None:
        read = lambda path, fallback: Path(path).read_text(encoding="utf-8") if path else fallback  # noqa: E731
        current, added = save_prompt(store, project, args.mode, read(args.system_file, current.system_prompt),
                                     read(args.template_file, current.template),
                                     current.rubric if args.rubric is None else args.rubric, args.user)
        print(f"Saved as {current.version}." if added else f"Unchanged: {current.version} is already this prompt.",
              file=sys.stderr)
    payload = {**asdict(current), "digest": current.digest,
               "versions": [p.version for p in prompt_versions(store, project, args.mode)]}
    text = (f"{args.mode} judge prompt {current.version}\n\n[system]\n{current.system_prompt}\n\n[rubric]\n"
            f"{current.rubric}\n\n[template]\n{current.template}")
    print_result(payload, args.json, text)
    return 0


def cmd_judge_key(args) -> int:
    from ftstudio.remote import key_source
    from ftstudio.secret_store import JUDGE_KEY, save_secret

    settings = settings_from(args)
    settings.ensure_dirs()
    if args.clear:
        save_secret(settings.home, JUDGE_KEY, None)
        print("The saved judge API key is forgotten.")
        return 0
    key = getpass.getpass("API key (not shown): ") if sys.stdin.isatty() else sys.stdin.readline()
    if not key.strip():
        raise StoreError("No key given: type it at the prompt, or pipe it in (`ftstudio judge-key < key.txt`).")
    save_secret(settings.home, JUDGE_KEY, key)
    print(f"Saved. Requests to remote judges now use {key_source(settings.home)}.")
    return 0


def cmd_metrics(args) -> int:
    from ftstudio.evaluation.metrics import compute_model_metrics, metrics_table

    if args.add_metric or args.remove_metric or not args.run:  # the project's own evaluate modules
        from ftstudio.cli.metrics import cmd_project_metrics

        return cmd_project_metrics(args)
    settings = settings_from(args)
    store = open_studio(settings)
    run = find_run(store, args.run)
    review = _review_of(store, run)
    if not args.text_only:
        compute_model_metrics(store, settings, review, on_progress=lambda line: print(line, file=sys.stderr)
                              if sys.stderr.isatty() else None)
    rows = metrics_table(store, review)
    lines = [f"Run {run.id}, review {review.id}:"]
    for row in rows:
        shown = ", ".join(f"{name} {row[name]:.3g}" for name in ("rougeL", "bleu", "exact_match", "accuracy",
                                                                 "macro_f1", "json_valid", "perplexity", "similarity")
                          if row.get(name) is not None)
        lines.append(f"  {row['system']} ({row['split']}, {row['with_reference']} with a reference): {shown}")
    print_result({"run": run.id, "review": review.id, "metrics": rows}, args.json, "\n".join(lines))
    return 0


def register(commands) -> None:
    judge = commands.add_parser("judge", help="LLM-as-a-judge over a run's review outputs.",
                                description="Judge every pair of the run's latest review in both orders (a side "
                                "wins only when both orders agree), or grade every answer 1-10 (--mode single). "
                                "Judgments are cached: a rerun asks only what is new or failed.")
    judge.add_argument("--run", required=True, help="Run id whose latest review to judge.")
    judge.add_argument("--judge", default="local", help="local (a model this studio loads) or an OpenAI-compatible "
                       "base URL, e.g. http://localhost:8000/v1 [local].")
    judge.add_argument("--judge-model", help="The endpoint's model name; for local, a model to load instead of the "
                       "studio's base model.")
    judge.add_argument("--mode", default="pairwise", choices=["pairwise", "single"], help="[pairwise]")
    judge.add_argument("--concurrency", type=int, default=16, help="Requests in flight to a remote judge [16].")
    judge.add_argument("--timeout", type=float, default=60.0, help="Seconds before a request is retried [60].")
    judge.add_argument("--retries", type=int, default=4, help="Retries on time-outs, 429 and 5xx [4].")
    judge.add_argument("--retry-invalid", action="store_true", help="Ask again where the answer could not be parsed.")
    judge.add_argument("--user", help="Your name, recorded with the judgments.")
    judge.add_argument("--json", action="store_true", help="Print {judgments, requests, cached, invalid, failed, "
                       "position_consistency, wins, ties, ...}.")
    judge.set_defaults(func=cmd_judge)

    prompt = commands.add_parser("judge-prompt", help="Show or version a project's judge prompt.",
                                 description="Without files: print the prompt in use. With --system-file, "
                                 "--template-file or --rubric: save the edited prompt as the project's next version.")
    add_project_option(prompt)
    prompt.add_argument("--mode", default="pairwise", choices=["pairwise", "single"], help="[pairwise]")
    prompt.add_argument("--system-file", help="A file holding the new system prompt.")
    prompt.add_argument("--template-file", help="A file holding the new template (sandboxed Jinja: input, "
                        "reference, answer_a, answer_b or answer, rubric).")
    prompt.add_argument("--rubric", help="The new rubric text.")
    prompt.add_argument("--user", help="Your name, recorded with the version.")
    prompt.add_argument("--json", action="store_true", help="Print JSON.")
    prompt.set_defaults(func=cmd_judge_prompt)

    key = commands.add_parser("judge-key", help="Save the remote judge's API key in the studio's secret store.",
                              description="Reads the key at a hidden prompt (or one line on standard input). "
                              "FTSTUDIO_JUDGE_API_KEY or OPENAI_API_KEY, when set, come first.")
    key.add_argument("--clear", action="store_true", help="Forget the saved key.")
    key.set_defaults(func=cmd_judge_key)

    metrics = commands.add_parser("metrics", help="Automatic metrics of a run's review outputs.",
                                  description="ROUGE, BLEU, exact match, accuracy and macro-F1, JSON validity, the "
                                  "reference's perplexity under each system and semantic similarity, per system "
                                  "and split. Perplexity and similarity run in a child process, once per output. The "
                                  "text metrics are evaluate modules shipped with the studio, loaded by local path "
                                  "(nothing is fetched); a project can add its own with --add-metric PATH.")
    metrics.add_argument("--run", help="Run id whose latest review to score.")
    metrics.add_argument("--project", help="Without --run: list the project's metrics (optional when the studio "
                         "has one project).")
    metrics.add_argument("--add-metric", action="append", metavar="PATH", help="Add your own evaluate module to the "
                         "project (a folder NAME holding NAME.py, or a .py file; repeatable): loaded once to check, "
                         "then computed beside the built-in metrics, under \"user_metrics\".")
    metrics.add_argument("--remove-metric", action="append", metavar="NAME", help="Remove one of the project's own "
                         "evaluate modules (repeatable).")
    metrics.add_argument("--text-only", action="store_true", help="Skip perplexity and similarity.")
    metrics.add_argument("--json", action="store_true", help="Print {run, review, metrics: [...]}; without --run "
                         "{project, builtin, user: [{name, path}]}.")
    metrics.set_defaults(func=cmd_metrics)
