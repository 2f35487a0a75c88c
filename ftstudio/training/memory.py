"""How much memory a run will need, estimated before it starts so that one which cannot fit is refused."""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.training.config import TrainConfig
from ftstudio.training.distributed import shard_memory

# The studio's CPU loss holds the logits of all labelled tokens of a batch at once, up to this many (1 GiB in fp32,
# about three times that at the peak of its backward pass); beyond it, TRL's chunked loss runs instead.
LEAN_LOSS_MAX_LOGITS = 2**28
DPO_LOGIT_BYTES = 32
# The longest sequence in tokens is found among this many rows that are longest in characters: tokenizing a
# whole large version would hold up the Train button, and token counts follow character counts closely.
LONGEST_CANDIDATES = 256
# Tokens a chat template or the tokenizer adds around each text (role markers, BOS/EOS), counted generously.
TOKENS_ADDED_PER_TEXT = 8


@dataclass
class MemoryEstimate:
    needed_bytes: int
    available_bytes: int
    device: str
    parts: dict[str, int]
    sequences: int = 0  # sequences in the largest batch
    tokens_per_sequence: int = 0  # the length that batch is padded to

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= 0.9 * self.available_bytes

    def describe(self) -> str:
        gib = 2**30
        parts = ", ".join(f"{name} {value / gib:.2f}" for name, value in self.parts.items())
        batch = (f" for batches of {self.sequences} sequences of up to {self.tokens_per_sequence:,} tokens"
                 if self.sequences else "")
        return (f"needs about {self.needed_bytes / gib:.1f} GiB on the {self.device}{batch} ({parts} GiB); "
                f"{self.available_bytes / gib:.1f} GiB is available")


def estimate_memory(model_config, config: TrainConfig, cuda: bool, available_bytes: int, device: str,
                    value_bytes: int | None = None, recipe=None, longest_tokens: int | None = None) -> MemoryEstimate:
    """An estimate of a run's peak memory, from the model's shape, the run's settings and its data.

    Batches are padded to their own longest sequence, so the peak comes from the batch that holds the version's
    longest one: `longest_tokens` (see `longest_sequence`), or, unknown, the longest the settings allow. Packed
    batches are always full. Calibrated against measured peaks (docs/benchmarks.md, tests/test_memory_estimate.py).

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
    packed = family == "causal" and not config.is_dpo and (
        config.batching == "packing" or (config.batching == "auto" and cuda) or config.objective == "cpt")
    length = config.sequence_length
    if longest_tokens and not packed:
        length = max(1, min(length, longest_tokens))
    tokens = sequences * length
    checkpointing = cuda and available_bytes < 24 * 2**30
    activation_layers = 1 if checkpointing else layers
    activations = tokens * activation_layers * (18 * hidden + 2 * intermediate) * value_bytes
    if recipe is not None and not recipe.trains:  # inference only: one layer's activations at a time
        activations = tokens * (18 * hidden + 2 * intermediate) * value_bytes
    attention = sequences * heads * length ** 2 * value_bytes * activation_layers
    logits = tokens * vocab * 4 * 2
    if config.is_dpo:
        # TRL's DPO holds the policy's and the reference's logits with their log-softmax and its gradient: about
        # 32 bytes per token and vocabulary entry at the measured peak (docs/benchmarks.md).
        logits = tokens * vocab * DPO_LOGIT_BYTES
    elif not cuda:  # the lean loss (training/sft_trainer.py): logits, their log-softmax and its gradient at once
        logits = max(logits, min(tokens * vocab, LEAN_LOSS_MAX_LOGITS) * 4 * 3)
    parts = {"weights": int(parameters * weight_bytes), "adapter+optimizer": int(lora_parameters * 16),
             "activations": int(activations + attention), "logits": int(logits)}
    # What the process holds before any of the above: on a CPU the libraries themselves (torch, transformers,
    # TRL), measured as the peak of a training child on a tiny model; on a GPU the CUDA context and allocator slack.
    overhead = 512 * 2**20 if cuda else 640 * 2**20
    # Several processes: per GPU, what sharding divides divided; on a CPU, every process in the one RAM.
    parts, copies = shard_memory(parts, config, cuda)
    return MemoryEstimate(int((sum(parts.values()) + overhead) * copies), available_bytes, device, parts, sequences,
                          length)


def _texts(row: dict, fields_: tuple[str, ...]) -> list[str]:
    """The texts of a row's fields; a conversational field (a list of messages) gives its contents joined."""
    texts = []
    for name in fields_:
        value = row.get(name) or ""
        if isinstance(value, list):
            value = "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
        texts.append(str(value))
    return texts


def longest_sequence(split_rows: dict[str, list[dict]], tokenizer, config: TrainConfig, data: str) -> int:
    """The longest sequence a training step will see, in tokens, truncated as the recipe truncates it.

    data is the recipe's kind of rows: prompt_completion (prompt and completion together, up to max length),
    preferences (the prompt up to max prompt length, plus the longer answer up to max completion length), or
    text_label (the text, up to max length)."""
    fields_ = {"prompt_completion": ("prompt", "completion"), "preferences": ("prompt", "chosen", "rejected"),
               "text_label": ("text",), "text": ("text",),
               "prompt_reference": ("prompt", "reference")}[data]
    rows = [row for split in ("train", "validation") for row in split_rows.get(split) or []]
    candidates = sorted(rows, key=lambda row: sum(len(t) for t in _texts(row, fields_)), reverse=True)
    longest = 0
    for row in candidates[:LONGEST_CANDIDATES]:
        counts = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) + TOKENS_ADDED_PER_TEXT
                  for text in _texts(row, fields_)]
        if data == "preferences":
            tokens = min(counts[0], config.max_prompt_length) + min(max(counts[1:]), config.max_completion_length)
        else:
            tokens = min(sum(counts), config.max_length)
        longest = max(longest, tokens)
    return longest
