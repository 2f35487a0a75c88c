"""`ftstudio bench train` on the tiny random Llama: every figure is produced and sane (speed is never asserted)."""

import math
from argparse import Namespace

from ftstudio.bench import run_benchmark
import pytest

from ftstudio.bench.posts import synthetic_posts
from ftstudio.bench.train import options_from_args, variant_settings
from ftstudio.training.device import native_bf16
from tests.conftest import needs_compiler


@needs_compiler
def test_bench_train_reports_both_recipes_on_the_tiny_model(tiny_model_dir):
    report = run_benchmark("train", Namespace(model=str(tiny_model_dir), steps=3, train_examples=8,
                                              validation_examples=4, batch_size=2, max_length=256,
                                              variants="group_by_length,packing,group_by_length+compile,"
                                                       "packing+bf16"))
    assert report["steps"] == 3 and report["batch_size"] == 2 and report["parameters"] > 0
    for name in ("baseline", "group_by_length", "packing", "group_by_length+compile"):
        assert report[f"{name}_tokens_per_second"] > 0, name
        assert math.isfinite(report[f"{name}_val_loss"]) and report[f"{name}_val_loss"] > 0, name
    # The headline is what a long CPU run uses: group_by_length with compiled layers.
    assert report["project_variant"] == "group_by_length+compile"
    assert report["project_tokens_per_second"] == report["group_by_length+compile_tokens_per_second"]
    assert report["group_by_length+compile_first_step_seconds"] > 0
    assert report["baseline_steps"] == report["group_by_length_steps"] == 3
    # The tutorial pads every example to max_length; packing feeds no padding at all.
    assert 0 < report["padding_fraction_baseline"] < 1
    assert report["packing_padding_fraction"] == 0
    assert report["gemm_peak_tflops"] > 0 and report["mfu"] > 0
    assert report["fastest_variant"] in ("group_by_length", "packing", "group_by_length+compile", "packing+bf16")
    assert math.isfinite(report["base_val_loss"])
    if native_bf16()[0]:
        # A variant in another dtype is timed in it, and its MFU is against that dtype's own measured peak.
        assert report["packing+bf16_dtype"] == "bfloat16" and report["packing+bf16_mfu"] > 0
        assert "bfloat16" in report["gemm_peak_tflops_by_dtype"]
    else:  # where bf16 is emulated, timing it would take minutes: the variant is left out and the report says why
        assert "emulated" in report["skipped_variants"]["packing+bf16"]
        assert "packing+bf16_mfu" not in report and "bfloat16" not in report["gemm_peak_tflops_by_dtype"]
    assert report["dtype_why"].startswith("compute_dtype: auto")
    # The matmul ceiling is timed at the studio's tokens per step, and is an MFU like the others.
    assert report["matmul_ceiling_tokens"] > 0 and report["matmul_ceiling_tflops"] > 0
    assert 0 < report["matmul_ceiling_mfu"]


def test_the_matmul_ceiling_times_every_linear_layer_forward_and_for_the_input_gradient():
    import torch

    from ftstudio.bench.gemm import linear_shapes, model_matmul_seconds

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, 8), torch.nn.Linear(8, 16),
                                torch.nn.ReLU())
    timed = model_matmul_seconds(linear_shapes(model), tokens=32, repeats=1)
    # Two distinct shapes; FLOPs count all three layers, 2 products of 2·in·out per token each (4·N).
    assert timed["shapes"] == 2 and timed["flops"] == 4 * 32 * (8 * 16 * 2 + 16 * 8) and timed["seconds"] > 0


def test_synthetic_posts_are_seeded_and_spread_in_length(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    posts = synthetic_posts(tokenizer, 60, seed=3)
    assert posts == synthetic_posts(tokenizer, 60, seed=3) and posts != synthetic_posts(tokenizer, 60, seed=4)
    lengths = sorted(len(tokenizer(p["output"], add_special_tokens=False)["input_ids"]) for p in posts)
    assert lengths[0] >= 20 and lengths[-1] > 3 * lengths[0]
    assert len({p["input"] for p in posts}) > 10


def test_variant_names_map_to_settings_and_unknown_ones_are_refused():
    assert variant_settings("group_by_length+compile+fp32") == {"batching": "group_by_length", "compile": "on",
                                                                "compute_dtype": "float32"}
    assert variant_settings("packing") == {"batching": "packing", "compile": "off"}
    with pytest.raises(ValueError, match="Unknown bench variant 'packing\\+fast'"):
        variant_settings("packing+fast")


def test_cli_arguments_map_to_options_and_missing_ones_are_left_to_defaults():
    assert options_from_args(Namespace(name="train", json=True)) == {}
    assert options_from_args(Namespace(steps=5, model="/m", emails=3)) == {"steps": 5, "model": "/m"}
    assert options_from_args(Namespace(variants="packing, padding+compile"))["variants"] == ("packing",
                                                                                            "padding+compile")


def test_bench_generate_reports_both_paths_on_the_tiny_model(tiny_model_dir):
    report = run_benchmark("generate", Namespace(model=str(tiny_model_dir), prompts=3, max_new_tokens=3,
                                                 batch_size=0))
    assert report["answers"] == 6 and report["studio_precision"] in ("bfloat16", "float32")
    other = "studio_bfloat16" if report["studio_precision"] == "float32" else "studio_float32"
    for prefix in ("studio", other, "naive"):
        assert report[f"{prefix}_answers_per_second"] > 0 and report[f"{prefix}_peak_memory_mb"] > 0, prefix
    assert report["one_model_weights_mb"] > 0 and report["speedup"] == report["studio_speedup"]
    # Greedy fp32 answers of the base model are the same whichever path produced them.
    fp32 = "studio" if report["studio_precision"] == "float32" else "studio_float32"
    assert report[f"{fp32}_same_base_outputs"] == 1.0
    assert isinstance(report["goal_5x_throughput"], bool)


def test_bench_judge_reports_both_sides_and_loses_nothing():
    from ftstudio.bench.judge import bench_judge

    report = bench_judge(pairs=10, latency=0.02, concurrency=4)
    assert report["judgments"] == 20
    assert report["sequential"]["answered"] == 20 and report["sequential"]["requests"] >= 20
    assert report["studio"]["stored"] == 20 and report["studio"]["lost"] == 0 and report["studio"]["failed"] == 0
    assert report["studio"]["requests"] == report["sequential"]["requests"]  # the same faults, retried alike
    assert report["speedup"] > 0


def test_bench_ingest_reports_time_and_peak_memory_at_n_and_at_scale():
    report = run_benchmark("ingest", Namespace(emails=200, scale=2))
    assert report["same_items"] is True and report["studio_imported"] == report["baseline_imported"] > 190
    assert report["scaled_emails"] == 400 and report["scaled_studio_imported"] > report["studio_imported"]
    for key in ("studio_peak_mb", "baseline_peak_mb", "scaled_studio_peak_mb"):
        assert 20 < report[key] < 4000, key  # a child process's own peak, in MB
    assert report["scaled_peak_memory_ratio"] > 0 and report["scaled_time_ratio"] > 0


def test_the_labeled_inbox_is_seeded_imbalanced_and_has_hard_emails():
    from ftstudio.bench.labeled_emails import labeled_emails

    emails = labeled_emails(2400, seed=1)
    assert emails == labeled_emails(2400, seed=1) and len(emails) == 2400
    phishing = sum(e["label"] == "phishing" for e in emails) / len(emails)
    assert 0.28 < phishing < 0.40  # about one in three, as the sample inbox
    assert 0.15 < sum(e["hard"] for e in emails) / len(emails) < 0.25


def test_bench_classify_reports_studio_tutorial_and_features_on_a_tiny_encoder(tiny_encoder_dir):
    from ftstudio.bench.classify import bench_classify

    report = bench_classify(model=str(tiny_encoder_dir), steps=3, batch_size=4, emails=120, max_length=64)
    for kind in ("studio", "tutorial", "features"):
        assert report[kind]["examples_per_second"] > 0, kind
        assert 0 <= report[kind]["test_macro_f1"] <= 1 and 0 <= report[kind]["test_accuracy"] <= 1, kind
    assert report["studio"]["timed_steps"] == report["tutorial"]["timed_steps"] == 2
    assert report["studio"]["trainable_parameters"] < report["tutorial"]["trainable_parameters"]
    assert report["throughput_ratio"] > 0 and report["train_emails"] + report["test_emails"] == 120


def test_bench_results_times_both_fits_on_the_same_votes_and_they_agree():
    from ftstudio.bench.results import bench_results

    figures = bench_results(prompts=5, reviewers=2, bt_resamples=20, lc_resamples=10)
    assert figures["votes"] == 3 * 5 * 2
    assert figures["baseline_seconds"] > 0 and figures["studio_seconds"] > 0 and figures["speedup"] > 0
    assert figures["max_rating_difference_elo"] < 1 and figures["max_length_controlled_difference"] < 1e-3
