"""`ftstudio bench NAME`: benchmarks that measure the project against a baseline in one run and return figures."""

from __future__ import annotations


def run_benchmark(name: str, args) -> dict:
    if name == "ingest":
        from ftstudio.bench.ingest import bench_ingest

        return bench_ingest(emails=getattr(args, "emails", None) or 20_000, scale=getattr(args, "scale", None) or 8)
    if name == "train":
        from ftstudio.bench.train import bench_train, options_from_args

        return bench_train(**options_from_args(args))
    if name == "generate":
        from ftstudio.bench.generate import bench_generate, options_from_args as generate_options

        return bench_generate(**generate_options(args))
    if name == "judge":
        from ftstudio.bench.judge import bench_judge

        return bench_judge(pairs=getattr(args, "pairs", None) or 100, concurrency=getattr(args, "concurrency", None) or 16)
    if name == "dpo":
        from ftstudio.bench.dpo import bench_dpo

        return bench_dpo(model=getattr(args, "model", None), steps=getattr(args, "steps", None),
                         batch_size=getattr(args, "batch_size", None))
    if name == "load":
        from ftstudio.bench.load import bench_load

        return bench_load(seconds=getattr(args, "seconds", None) or 30, users=getattr(args, "users", None) or 16,
                          model=getattr(args, "model", None))
    if name == "classify":
        from ftstudio.bench.classify import bench_classify

        return bench_classify(model=getattr(args, "model", None), steps=getattr(args, "steps", None),
                              batch_size=getattr(args, "batch_size", None),
                              emails=getattr(args, "classify_emails", None))
    if name == "serve":
        from ftstudio.bench.serve import bench_serve, options_from_args as serve_options

        return bench_serve(**serve_options(args))
    if name == "results":
        from ftstudio.bench.results import bench_results

        return bench_results()
    if name == "cpt":
        from ftstudio.bench.cpt import bench_cpt

        return bench_cpt(model=getattr(args, "model", None), steps=getattr(args, "steps", None),
                         batch_size=getattr(args, "batch_size", None), posts=getattr(args, "posts", None))
    raise ValueError(f"Unknown benchmark {name!r}: choose ingest, train, generate, judge, dpo, classify, load, "
                     "results or cpt.")
