"""The studio's SFT: its SFTConfig (`sft_config`) and its SFTTrainer, TRL's with a leaner loss where TRL's fused
LM head falls back to plain torch. (The figures behind each choice here are in docs/benchmarks.md.)

TRL 1.x computes the loss through a chunked "fused LM head" that, on devices without
Triton (CPUs), scores every position (prompt and padding included), folds each
vocabulary tile through a dozen full-vocabulary torch ops to also get entropy and
top-1 accuracy, and recomputes the LM head in backward: profiled on CPUs, a large
share of a training step.

Here the LM head runs only on the positions that carry a label (the completion,
when the loss is on the completion only), once, followed by ATen's fused
cross-entropy; token accuracy comes from one argmax of logits already computed.
Entropy, which TRL logs, is left out on this path: it costs a softmax over the
whole vocabulary per token and no decision in the studio reads it.

Where this does not apply (CUDA with TRL's compact Triton kernels, label smoothing,
custom loss functions, MoE auxiliary losses, models with logit soft-capping or
scaling, evaluation, or logits too large to hold at once) TRL's own path runs.

On that path a right-padded batch also goes through the model without its attention
mask: causal attention already keeps real tokens from seeing the padding after them,
and SDPA then runs its causal kernel on the grouped key/value heads as they are.

Long CPU runs also compile the decoder layers with torch.compile (`compile_decision`),
which fuses the many small elementwise and LoRA ops that eager mode runs one by one.
group_by_length batches come from length buckets as wide as a small dataset
(`sampling.py`), which leave a fraction of the padding transformers' sampler left.
"""

from __future__ import annotations

from trl import SFTTrainer

from ftstudio.spaces_gpu import on_zero_gpu
from ftstudio.training.device import cpp_compiler
from ftstudio.training.harness import trainer_arguments
from ftstudio.training.memory import LEAN_LOSS_MAX_LOGITS


def resolve_batching(config, precision) -> str:
    """auto: packing on GPUs, group_by_length on CPUs (where packed rows make attention run over one long masked
    square), each the faster there on `ftstudio bench train` (docs/benchmarks.md)."""
    if config.batching != "auto":
        return config.batching
    return "packing" if precision.cuda else "group_by_length"


def sft_config(run_dir, config, precision, has_validation: bool):
    """TRL's SFTConfig for a run: the shared arguments, the batching and the loss on the completion only."""
    from trl import SFTConfig

    batching = resolve_batching(config, precision)
    return SFTConfig(
        **trainer_arguments(run_dir, config, precision, has_validation),
        max_length=config.max_length,
        completion_only_loss=config.completion_only,
        packing=batching == "packing",
        train_sampling_strategy="group_by_length" if batching == "group_by_length" else "random",
        # On CUDA every new sequence length costs an attention plan; few distinct lengths were measured faster.
        pad_to_multiple_of=64 if precision.cuda else None,
    )


def _supports_lean_loss(model) -> bool:
    config = getattr(model, "config", None)
    text = config.get_text_config() if config is not None and hasattr(config, "get_text_config") else config
    if text is None or getattr(text, "final_logit_softcapping", None) or getattr(text, "logit_scale", None):
        return False
    return not getattr(text, "output_router_logits", False)


# Compiling the decoder layers costs about a minute on the first step with a cold cache and makes later steps
# faster: measured on 2 CPU cores, it pays for itself within roughly 100 steps even when the cache is cold.
COMPILE_AUTO_MIN_STEPS = 100
# On CPUs, max-autotune lets inductor time its own C++ GEMM templates against MKL for each matmul: measured faster
# than the default mode on the same machine and batches, and no longer to compile.
# GPUs keep the default mode: not measured there, and Triton autotuning takes long.
CPU_COMPILE_MODE = "max-autotune-no-cudagraphs"


def compile_decision(config, precision, planned_steps: int) -> tuple[bool, str]:
    """Whether to torch.compile the decoder layers for this run, and why (the reason goes into the run's log)."""
    if config.compile == "off":
        return False, "compile: off"
    if on_zero_gpu():
        return False, f"compile: {config.compile}, off on ZeroGPU (it allows no torch.compile)"
    if not precision.cuda and not cpp_compiler():
        if config.compile == "on":
            raise ValueError("compile: on needs a C++ compiler on a CPU (torch.compile builds C++ kernels); "
                             "install g++ or set compile to off.")
        return False, "compile: auto, off because no C++ compiler was found"
    if config.compile == "on":
        return True, "compile: on"
    if precision.cuda:
        return False, "compile: auto, off on GPUs (not yet measured there; set compile to on to try)"
    if config.method == "qlora":
        return False, "compile: auto, off for QLoRA (bitsandbytes' 4-bit layers break the compiled graph)"
    if planned_steps < COMPILE_AUTO_MIN_STEPS:
        return False, f"compile: auto, off for {planned_steps} steps (it pays off from about {COMPILE_AUTO_MIN_STEPS})"
    return True, f"compile: auto, on for {planned_steps} steps"


def compile_decoder_layers(model) -> int:
    """torch.compile every decoder layer in place (state-dict keys unchanged, so checkpoints and adapters are too).

    Layers rather than the whole model: one compiled graph serves all identical layers, and the LM head and loss
    stay in eager mode. Shapes are dynamic from the start, since group_by_length gives every batch its own length.
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(causal_lm.get_decoder(), "layers", None)
    if layers is None:
        return 0
    mode = None if next(causal_lm.parameters()).is_cuda else CPU_COMPILE_MODE
    for layer in layers:
        layer.compile(dynamic=True, mode=mode)
    return len(layers)


def labelled_head_loss(head, hidden, targets):
    """Summed cross-entropy of the LM head on labelled positions only, and how many of them it predicts right."""
    import torch
    import torch.nn.functional as F

    logits = head(hidden).float()
    with torch.no_grad():
        correct = (logits.argmax(-1) == targets).sum()
    return F.cross_entropy(logits, targets, reduction="sum"), correct


class StudioSFTTrainer(SFTTrainer):
    _head_loss = staticmethod(labelled_head_loss)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        import torch

        from ftstudio.training.attention import cpu_compute_dtype, use_fp32_attention_on_cpu

        causal_lm = self._causal_lm(self.model)
        # bf16 on a CPU: the fp32 LoRA adapter computes in bf16 under autocast, attention in fp32 (see attention.py).
        self.cpu_autocast = cpu_compute_dtype(causal_lm) == torch.bfloat16
        self.fp32_attention = use_fp32_attention_on_cpu(causal_lm)

    def autocast_smart_context_manager(self, cache_enabled: bool | None = True):
        """CPU autocast to bf16 where the base model computes in bf16 (transformers' hook around compute_loss).

        PEFT keeps the LoRA adapter in fp32 (the optimizer needs fp32 weights), so without autocast every LoRA
        product runs as an fp32 matmul: over a thousand small ones per step for SmolLM2, a large share of the matmul
        time on a CPU with AMX. Under autocast they run in bf16; the base weights already are bf16, so nothing large
        is recast. Measured faster with AMX and no slower without it.
        """
        if not self.cpu_autocast:
            return super().autocast_smart_context_manager(cache_enabled)
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache_enabled)

    def compile_model(self) -> None:
        """Compile the decoder layers and, on CPUs, the lean loss's LM head with its cross-entropy.

        Compiled, the head's log-softmax, loss and argmax run as fused passes over the logits rather than one
        full-vocabulary pass each, measured faster forward and backward.
        """
        import torch

        compile_decoder_layers(self.model)
        if not next(self.model.parameters()).is_cuda:
            self._head_loss = torch.compile(labelled_head_loss, dynamic=True, mode=CPU_COMPILE_MODE)

    def _get_train_sampler(self, train_dataset=None):
        # group_by_length with length buckets as wide as a small dataset (see sampling.py): less padding.
        from transformers.trainer_pt_utils import LengthGroupedSampler

        from ftstudio.training.sampling import LengthBucketedSampler

        sampler = super()._get_train_sampler(train_dataset)
        if type(sampler) is LengthGroupedSampler:
            return LengthBucketedSampler(sampler.batch_size, lengths=sampler.lengths, generator=sampler.generator)
        return sampler

    def evaluate(self, *args, **kwargs):
        # Evaluation runs without gradients and in eval mode, which would compile a second set of graphs for a few
        # batches; eager is cheaper there.
        import torch

        with torch.compiler.set_stance("force_eager"):
            return super().evaluate(*args, **kwargs)

    def _lean_loss_applies(self, model, inputs) -> bool:
        import torch

        # On CUDA TRL's Triton kernels already score only labelled positions; a DDP-wrapped model must be called
        # through its wrapper for gradients to synchronise.
        if not model.training or _on_cuda(inputs) or isinstance(model, torch.nn.parallel.DistributedDataParallel):
            return False
        if self.compute_loss_func is not None or self.label_smoother is not None or self.args.loss_type != "nll":
            return False
        if self.aux_loss_enabled or "labels" not in inputs and "shift_labels" not in inputs:
            return False
        return _supports_lean_loss(self._causal_lm(model))

    @staticmethod
    def _causal_lm(model):
        """The transformers model under the PEFT wrapper (LoRA layers are injected into it in place)."""
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs or not self._lean_loss_applies(model, inputs):
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        import torch

        causal_lm = self._causal_lm(model)
        labels, shift_labels = inputs.get("labels"), inputs.get("shift_labels")
        targets = shift_labels if shift_labels is not None else labels[:, 1:]
        mask = targets != -100
        vocabulary = causal_lm.get_output_embeddings().weight.shape[0]
        if int(mask.sum()) * vocabulary > LEAN_LOSS_MAX_LOGITS:  # TRL's chunked loss never holds them all at once
            return super().compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)

        backbone_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "shift_labels")}
        if _right_padded(backbone_inputs.get("attention_mask")):
            # Under causal attention no real token can see the padding after it, and padded positions carry no
            # label, so the mask changes nothing that is scored. Without it attention takes SDPA's causal path
            # with grouped-query heads as they are, instead of a materialised mask over key/value heads copied
            # for every query head: 20% less attention time at 475 tokens on 2 CPU cores.
            backbone_inputs.pop("attention_mask")
        hidden = causal_lm.get_decoder()(**backbone_inputs, use_cache=False).last_hidden_state
        if shift_labels is None:
            hidden = hidden[:, :-1]
        picked = targets[mask]
        loss, correct = self._head_loss(causal_lm.get_output_embeddings(), hidden[mask], picked)
        loss = loss / (torch.as_tensor(num_items_in_batch) if num_items_in_batch is not None
                       else mask.sum()).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self._tp_size)

        self._record_train_metrics(inputs, correct, mask.sum())
        return loss

    def _record_train_metrics(self, inputs, correct, valid) -> None:
        """The same train metrics TRL logs (token accuracy, tokens seen), without entropy."""
        import torch

        valid = self.accelerator.gather_for_metrics(valid).sum()
        correct = self.accelerator.gather_for_metrics(correct).sum()
        metrics = self._metrics["train"]
        metrics["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
        if "attention_mask" in inputs:
            tokens = inputs["attention_mask"].sum()
        else:
            tokens = torch.tensor(inputs["position_ids"].size(1), device=inputs["position_ids"].device)
        self._total_train_tokens += self.accelerator.gather_for_metrics(tokens).sum().item() // self._tp_size
        metrics["num_tokens"] = [self._total_train_tokens]


def _right_padded(mask) -> bool:
    """Whether every row of an attention mask is ones followed only by zeros (padding on the right, if any)."""
    if mask is None or mask.dim() != 2:
        return False
    import torch

    lengths = mask.sum(dim=1, keepdim=True)
    return bool(torch.equal(mask.bool(), torch.arange(mask.size(1), device=mask.device) < lengths))


def _on_cuda(inputs) -> bool:
    ids = inputs.get("input_ids")
    return ids is not None and ids.is_cuda
