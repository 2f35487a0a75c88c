"""How much memory a run will need, estimated before it starts so that one which cannot fit is refused."""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.training.config import TrainConfig

# The studio's CPU loss holds the logits of all labelled tokens of a batch at once, up to this many (1 GiB in fp32,
# about three times that at the peak of its backward pass); beyond it, TRL's chunked loss runs instead.
LEAN_LOSS_MAX_LOGITS = 2**28


@dataclass
class MemoryEstimate:
    needed_bytes: int
    available_bytes: int
    device: str
    parts: dict[str, int]

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= 0.9 * self.available_bytes

    def describe(self) -> str:
        gib = 2**30
        parts = ", ".join(f"{name} {value / gib:.2f}" for name, value in self.parts.items())
        return (f"needs about {self.needed_bytes / gib:.1f} GiB on the {self.device} ({parts} GiB); "
                f"{self.available_bytes / gib:.1f} GiB is available")


def estimate_memory(model_config, config: TrainConfig, cuda: bool, available_bytes: int, device: str,
                    value_bytes: int | None = None, recipe=None) -> MemoryEstimate:
    """A conservative estimate of a run's peak memory, from the model's shape and the run's settings.

    `value_bytes` is the size of the run's compute dtype (4 for fp32, 2 for bf16; the worker's choice); unknown,
    it is 2 on GPUs and 4 on CPUs. Weights (that size, or about 0.56 per parameter in NF4), LoRA weights with their
    gradients and Adam moments (16 bytes each), and activations kept for the backward pass
    (about 18 values per hidden unit per token per layer, plus attention scores and the logits).
    """
    family = recipe.family if recipe is not None else "causal"
    hidden = model_config.hidden_size
    # An encoder-decoder has its layers twice over (T5's num_layers and num_decoder_layers).
    layers = model_config.num_hidden_layers + (getattr(model_config, "num_decoder_layers", None) or
                                               model_config.num_hidden_layers if family == "seq2seq" else 0)
    vocab = model_config.vocab_size
    intermediate = getattr(model_config, "intermediate_size", None) or getattr(model_config, "d_ff", 4 * hidden)
    heads = model_config.num_attention_heads
    per_layer = 4 * hidden * hidden + 3 * hidden * intermediate
    parameters = layers * per_layer + 2 * vocab * hidden
    value_bytes = value_bytes or (2 if cuda else 4)
    weight_bytes = value_bytes if config.method != "qlora" else 0.56
    lora_parameters = layers * config.r * (4 * 2 * hidden + 3 * (hidden + intermediate))
    if config.method == "full":  # every weight has a gradient and two Adam moments
        lora_parameters = parameters
    elif config.method == "features":  # nothing is optimized
        lora_parameters = 0
    # A classifier's head scores a handful of labels, not a vocabulary.
    if family == "encoder":
        vocab = 64
    # DPO runs every pair's chosen and rejected answers through the model (its reference is the adapter switched
    # off: one more forward pass without stored activations, no second copy of the weights).
    sequences = config.batch_size * (2 if config.is_dpo else 1)
    length = config.sequence_length
    tokens = sequences * length
    checkpointing = cuda and available_bytes < 24 * 2**30
    activation_layers = 1 if checkpointing else layers
    activations = tokens * activation_layers * (18 * hidden + 2 * intermediate) * value_bytes
    if recipe is not None and not recipe.trains:  # inference only: one layer's activations at a time
        activations = tokens * (18 * hidden + 2 * intermediate) * value_bytes
    attention = sequences * heads * length ** 2 * value_bytes * activation_layers
    logits = tokens * vocab * 4 * 2
    if not cuda:  # the lean loss (training/sft_trainer.py): logits, their log-softmax and its gradient at once
        logits = max(logits, min(tokens * vocab, LEAN_LOSS_MAX_LOGITS) * 4 * 3)
    parts = {"weights": int(parameters * weight_bytes), "adapter+optimizer": int(lora_parameters * 16),
             "activations": int(activations + attention), "logits": int(logits)}
    overhead = 512 * 2**20 if cuda else 1024 * 2**20
    return MemoryEstimate(int(sum(parts.values()) + overhead), available_bytes, device, parts)
