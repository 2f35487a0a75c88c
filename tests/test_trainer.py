"""The studio's SFTTrainer: its lean CPU loss must equal TRL's, and compilation is decided as documented."""

from types import SimpleNamespace

import pytest
import torch

from ftstudio.training.config import TrainConfig
from tests.conftest import needs_compiler
from ftstudio.training.sft_trainer import COMPILE_AUTO_MIN_STEPS, StudioSFTTrainer, compile_decision


def _trainer(tiny_model_dir, tmp_path, batching: str, compute_dtype: str = "float32") -> StudioSFTTrainer:
    from datasets import Dataset
    from transformers import AutoTokenizer

    from ftstudio.training.device import choose_precision
    from ftstudio.training.harness import load_base, lora_config
    from ftstudio.training.sft_trainer import sft_config

    # fp32 whatever the CPU: the comparison with TRL is to a tight tolerance.
    config = TrainConfig(max_steps=2, batch_size=4, max_length=128, eval_steps=0, batching=batching,
                         compute_dtype=compute_dtype)
    precision = choose_precision(config)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    pairs = [{"prompt": f"Where is pallet {n}?", "completion": f" Pallet {n} is in depot {n % 4}." * (1 + n % 3)}
             for n in range(8)]
    torch.manual_seed(0)
    trainer = StudioSFTTrainer(model=load_base(str(tiny_model_dir), config, precision.dtype),
                               args=sft_config(tmp_path, config, precision, has_validation=False),
                               train_dataset=Dataset.from_list(pairs), processing_class=tokenizer,
                               peft_config=lora_config(config))
    # LoRA's B starts at zero, which would hide a wrong gradient into A: give the adapter some weight first.
    with torch.no_grad():
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)
    trainer.model.train()
    return trainer


@pytest.mark.parametrize("batching", ["group_by_length", "packing"])
def test_the_lean_loss_equals_trls_loss_and_gradients(tiny_model_dir, tmp_path, batching):
    trainer = _trainer(tiny_model_dir, tmp_path, batching)
    batch = next(iter(trainer.get_train_dataloader()))
    assert (batch["labels"] == -100).any(), "the prompt must be masked for this test to mean anything"
    if batching == "group_by_length":  # right padding, which the lean path leaves unmasked (causal attention)
        assert (batch["attention_mask"] == 0).any(), "the batch must hold padding for this test to mean anything"
    _assert_lean_equals_trl(trainer, batch)


@needs_compiler
def test_the_compiled_lean_loss_equals_trls_loss_and_gradients(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, "group_by_length")
    trainer.compile_model()  # decoder layers, and on a CPU the LM head with its cross-entropy
    _assert_lean_equals_trl(trainer, next(iter(trainer.get_train_dataloader())))


def test_a_left_padded_batch_keeps_its_attention_mask(tiny_model_dir, tmp_path):
    trainer = _trainer(tiny_model_dir, tmp_path, "group_by_length")
    batch = next(iter(trainer.get_train_dataloader()))
    # Move each row's padding to the left: real tokens now follow padding, so the mask matters.
    shifts = (batch["attention_mask"] == 0).sum(dim=1).tolist()
    assert any(shifts)
    left = {k: torch.stack([torch.roll(row, s) for row, s in zip(v, shifts)]) for k, v in batch.items()}
    _assert_lean_equals_trl(trainer, left)


def _assert_lean_equals_trl(trainer, batch) -> None:
    model = trainer.model
    results = []
    for compute in (lambda: trainer.compute_loss(model, dict(batch)),
                    lambda: super(StudioSFTTrainer, trainer).compute_loss(model, dict(batch))):
        model.zero_grad()
        loss = compute()
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad},
                        trainer._metrics["train"]["mean_token_accuracy"][-1]))
    (lean_loss, lean_grads, lean_accuracy), (trl_loss, trl_grads, trl_accuracy) = results
    torch.testing.assert_close(lean_loss, trl_loss, rtol=1e-5, atol=1e-6)
    assert lean_grads.keys() == trl_grads.keys() and len(lean_grads) > 0
    for name in lean_grads:
        torch.testing.assert_close(lean_grads[name], trl_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    assert lean_accuracy == pytest.approx(trl_accuracy)
    # Tokens seen feed the run's tokens-per-second figure: both paths counted this batch.
    assert trainer._metrics["train"]["num_tokens"] == [trainer._total_train_tokens] and trainer._total_train_tokens > 0


CPU = SimpleNamespace(cuda=False)


def test_compile_is_decided_by_setting_device_method_and_run_length(monkeypatch):
    monkeypatch.setattr("ftstudio.training.sft_trainer.cpp_compiler", lambda: "/usr/bin/c++")
    assert compile_decision(TrainConfig(compile="off"), CPU, 10_000)[0] is False
    assert compile_decision(TrainConfig(compile="on"), CPU, 2)[0] is True
    assert compile_decision(TrainConfig(), CPU, COMPILE_AUTO_MIN_STEPS)[0] is True
    short, why = compile_decision(TrainConfig(), CPU, COMPILE_AUTO_MIN_STEPS - 1)
    assert short is False and str(COMPILE_AUTO_MIN_STEPS) in why
    assert compile_decision(TrainConfig(method="qlora"), CPU, 10_000)[0] is False
    assert compile_decision(TrainConfig(), SimpleNamespace(cuda=True), 10_000)[0] is False


def test_compile_without_a_compiler_is_skipped_or_refused_clearly(monkeypatch):
    monkeypatch.setattr("ftstudio.training.sft_trainer.cpp_compiler", lambda: None)
    skipped, why = compile_decision(TrainConfig(), CPU, 10_000)
    assert skipped is False and "C++ compiler" in why
    with pytest.raises(ValueError, match="C\\+\\+ compiler"):
        compile_decision(TrainConfig(compile="on"), CPU, 10)


def test_a_bad_compile_setting_is_refused():
    with pytest.raises(ValueError, match="compile must be one of auto, on, off"):
        TrainConfig(compile="yes").check()


def test_group_by_length_uses_length_buckets(tiny_model_dir, tmp_path):
    from ftstudio.training.sampling import LengthBucketedSampler

    sampler = _trainer(tiny_model_dir, tmp_path, "group_by_length")._get_train_sampler()
    assert isinstance(sampler, LengthBucketedSampler) and sorted(sampler) == list(range(8))


def test_a_bf16_cpu_run_computes_attention_in_fp32_and_an_fp32_run_keeps_sdpa(tiny_model_dir, tmp_path):
    from ftstudio.training.attention import FP32_SDPA

    bf16 = _trainer(tiny_model_dir, tmp_path / "bf16", "group_by_length", compute_dtype="bfloat16")
    assert bf16.fp32_attention and bf16.model.get_base_model().config._attn_implementation == FP32_SDPA
    with bf16.compute_loss_context_manager():  # as the trainer's training step calls it
        loss = bf16.compute_loss(bf16.model, next(iter(bf16.get_train_dataloader())))
    loss.backward()  # trains through it
    lora = {n: p for n, p in bf16.model.named_parameters() if "lora_" in n}
    assert torch.isfinite(loss) and all(p.grad is not None for p in lora.values())
    fp32 = _trainer(tiny_model_dir, tmp_path / "fp32", "group_by_length")
    assert not fp32.fp32_attention and fp32.model.get_base_model().config._attn_implementation == "sdpa"


def test_a_bf16_cpu_run_computes_the_fp32_adapter_in_bf16_and_keeps_its_weights_fp32(tiny_model_dir, tmp_path):
    bf16 = _trainer(tiny_model_dir, tmp_path / "bf16", "group_by_length", compute_dtype="bfloat16")
    lora_a = next(m for n, m in bf16.model.named_modules() if n.endswith("lora_A.default"))
    x = torch.randn(3, lora_a.in_features)
    assert bf16.cpu_autocast and lora_a.weight.dtype == torch.float32
    with bf16.compute_loss_context_manager():
        assert lora_a(x).dtype == torch.bfloat16  # the adapter's products run in bf16 ...
    bf16.train()
    lora = [p for n, p in bf16.model.named_parameters() if "lora_" in n]
    assert all(p.dtype == torch.float32 for p in lora)  # ... its weights (what AdamW updates) stay fp32
    fp32 = _trainer(tiny_model_dir, tmp_path / "fp32", "group_by_length")
    fp32_lora_a = next(m for n, m in fp32.model.named_modules() if n.endswith("lora_A.default"))
    with fp32.compute_loss_context_manager():
        assert not fp32.cpu_autocast and fp32_lora_a(x).dtype == torch.float32
