"""Length-bucketed batches: each batch holds examples of nearly equal length, and batches come in random order.

transformers' `group_by_length` sorts within "megabatches" of at most 50 batches, and
for small datasets of only a quarter of the data (32 examples of a 128-example set
in batches of 4). Sorting so few examples still leaves long and short posts in one
batch: on `ftstudio bench train` a tenth of every batch was padding, and a padded
token costs as much as a real one in every matmul. Small datasets are the common
case here (one author's posts, a few hundred emails).

Here each megabatch is up to 64 batches wide (the whole of a small dataset), sorted
by length, cut into batches, and the batches of the whole epoch are shuffled, so
the order of lengths is random even though each batch's members are neighbours in
length (the "sortish" or bucketing sampler of fairseq and fastai). The first batch
is the one holding the longest example, as in transformers, so a run that cannot fit
in memory fails on its first step rather than hours in.
"""

from __future__ import annotations

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler

MEGABATCH_BATCHES = 64


def length_bucketed_indices(lengths: list[int], batch_size: int, generator=None,
                            megabatch_batches: int = MEGABATCH_BATCHES) -> list[int]:
    """Indices whose consecutive `batch_size` slices are batches of similar length, in random batch order."""
    if not lengths:
        return []
    # torch's RNG, as transformers' samplers use: the Trainer seeds it (data_seed) and saves it in checkpoints.
    order = torch.randperm(len(lengths), generator=generator).tolist()
    width = batch_size * megabatch_batches
    batches = []
    for start in range(0, len(order), width):
        # A stable sort of a random permutation: equal lengths stay in random order.
        megabatch = sorted(order[start:start + width], key=lambda i: lengths[i], reverse=True)
        batches += [megabatch[i:i + batch_size] for i in range(0, len(megabatch), batch_size)]
    batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
    batches[0], batches[longest] = batches[longest], batches[0]
    return [i for batch in batches for i in batch]


class LengthBucketedSampler(LengthGroupedSampler):
    """transformers' LengthGroupedSampler (same lengths, same RNG) with whole-dataset length buckets."""

    def __iter__(self):
        return iter(length_bucketed_indices(self.lengths, self.batch_size, generator=self.generator))
