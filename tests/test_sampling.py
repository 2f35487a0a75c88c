"""Length-bucketed batches: every example once per epoch, little padding, batches in random order."""

import random

import torch
from transformers.trainer_pt_utils import get_length_grouped_indices

from ftstudio.training.sampling import length_bucketed_indices


def _post_lengths(count: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)  # log-normal like real posts: median about 110 tokens, 20 to 500
    return [int(min(500, max(20, rng.lognormvariate(4.7, 0.75)))) for _ in range(count)]


def _padding(indices: list[int], lengths: list[int], batch_size: int) -> float:
    batches = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths) / padded


def test_each_example_comes_once_and_the_longest_batch_comes_first():
    lengths = _post_lengths(130)  # not a multiple of the batch size: the last batch is short
    indices = length_bucketed_indices(lengths, 4, generator=torch.Generator().manual_seed(1))
    assert sorted(indices) == list(range(len(lengths)))
    assert lengths.index(max(lengths)) in indices[:4]


def test_batches_pad_far_less_than_transformers_group_by_length():
    lengths = _post_lengths(128)
    ours = _padding(length_bucketed_indices(lengths, 4, generator=torch.Generator().manual_seed(0)), lengths, 4)
    theirs = _padding(get_length_grouped_indices(lengths, 4, generator=torch.Generator().manual_seed(0)), lengths, 4)
    assert ours < 0.05 < theirs


def test_batch_order_is_random_and_follows_the_seed():
    lengths = _post_lengths(128)

    def batch_lengths(seed):
        indices = length_bucketed_indices(lengths, 4, generator=torch.Generator().manual_seed(seed))
        return [max(lengths[i] for i in indices[b:b + 4]) for b in range(0, len(indices), 4)]

    first, again, other = batch_lengths(0), batch_lengths(0), batch_lengths(1)
    assert first == again and first != other
    rest = first[1:]  # not sorted by length: long and short batches alternate in a random order
    assert rest != sorted(rest) and rest != sorted(rest, reverse=True)


def test_wide_datasets_are_bucketed_in_megabatches():
    lengths = _post_lengths(1000)
    indices = length_bucketed_indices(lengths, 4, generator=torch.Generator().manual_seed(0), megabatch_batches=8)
    assert sorted(indices) == list(range(1000))
    assert _padding(indices, lengths, 4) < 0.15
