"""The CLI's `bench` command: benchmarks measured side by side with a baseline, printed as figures."""

from __future__ import annotations

from ftstudio.cli.common import add_json_option, print_result


def cmd_bench(args) -> int:
    from ftstudio.bench import run_benchmark

    result = run_benchmark(args.name, args)
    print_result(result, args.json, "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


def register(commands) -> None:
    bench = commands.add_parser("bench", help="Run a benchmark against its baseline and print figures.",
                                description="Benchmarks measured side by side with a baseline in one run.")
    bench.add_argument("name", choices=["ingest", "train", "generate", "judge", "dpo", "classify", "load",
                                              "results", "cpt", "serve"],
                       help="Which benchmark.")
    bench.add_argument("--seconds", type=float, help="load: seconds each phase runs [30].")
    bench.add_argument("--users", type=int, help="load: people labeling and voting at once [16].")
    bench.add_argument("--pairs", type=int, help="judge: pairs judged in both orders [100, so 200 judgments].")
    bench.add_argument("--concurrency", type=int, help="judge: requests in flight for the studio [16].")
    bench.add_argument("--steps", type=int, help="train, dpo, classify, cpt: optimizer steps for each trainer.")
    bench.add_argument("--model", help="train: a local model folder instead of the embedded model.")
    bench.add_argument("--variants", help="train: the studio variants to time, comma-separated: a batching mode, "
                                          "optionally +compile and +fp32 (fp32 where the device would use bf16) "
                                          "[CPU: group_by_length,group_by_length+compile].")
    bench.add_argument("--emails", type=int, default=20_000, help="ingest: how many emails to generate.")
    bench.add_argument("--scale", type=int, default=8,
                       help="ingest: the second, larger mbox holds this many times --emails, imported by the studio only.")
    bench.add_argument("--posts", type=int, help="cpt: generated posts, the first 40 held out for perplexity [2000].")
    bench.add_argument("--classify-emails", type=int, help="classify: labeled emails to generate [2400].")
    bench.add_argument("--prompts", type=int, help="generate: prompts answered by base and tuned [32].")
    bench.add_argument("--max-new-tokens", type=int, help="generate: longest answer in tokens [64].")
    bench.add_argument("--batch-size", type=int, help="train: examples per step; generate: the studio's batch size, 0 picks by device.")
    add_json_option(bench)
    bench.set_defaults(func=cmd_bench)
