"""`ftstudio bench cpt` on the tiny model: both recipes report tokens/s and validation perplexity, and packing
trains on more real tokens per step than padding each post to max length."""


def test_bench_cpt_reports_both_recipes_on_the_tiny_model(tiny_model_dir):
    from ftstudio.bench.cpt import bench_cpt

    report = bench_cpt(model=str(tiny_model_dir), posts=48, steps=3, batch_size=2, max_length=128, validation=8)
    studio, tutorial = report["studio"], report["tutorial"]
    for side in (studio, tutorial):
        assert side["tokens_per_second"] > 0 and side["validation_perplexity"] > 1
    # Packed rows are full; padded rows hold one post each, most of it padding.
    assert studio["real_tokens_per_step"] == 2 * 128 > tutorial["real_tokens_per_step"]
    assert report["throughput_ratio"] > 0 and report["goal"] == "throughput ratio >= 3"
