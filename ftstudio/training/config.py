"""Run settings as a dataclass with help text, saved as run.yaml in the run folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import yaml

METHODS = ("lora", "qlora")
BATCHING = ("auto", "group_by_length", "packing", "padding")
COMPILE = ("auto", "on", "off")


@dataclass
class TrainConfig:
    """Everything that decides what a run does. Defaults measured on a 2-core CPU and fit a 135M model."""

    method: str = field(default="lora", metadata={"help": "lora, or qlora (4-bit NF4 base weights via bitsandbytes)."})
    r: int = field(default=16, metadata={"help": "LoRA rank: capacity of the adapter."})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha: the adapter's scale is alpha / r."})
    # 0 by measurement: on a 2-core CPU, LoRA dropout 0.05 made each step 1.3-1.5x slower (mask generation alone
    # was a fifth of a step) for the same validation loss on `ftstudio bench train`.
    dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA path (0 measured fastest, same loss)."})
    target_modules: str = field(default="all-linear", metadata={"help": "Layers to adapt: all-linear, or comma-separated names."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate."})
    scheduler: str = field(default="cosine", metadata={"help": "Learning-rate schedule: cosine, linear or constant."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of steps spent warming the learning rate up."})
    epochs: float = field(default=2.0, metadata={"help": "Passes over the training split (ignored when max_steps > 0)."})
    max_steps: int = field(default=0, metadata={"help": "Stop after this many optimizer steps; 0 means use epochs."})
    batch_size: int = field(default=4, metadata={"help": "Examples per device per step."})
    grad_accumulation: int = field(default=1, metadata={"help": "Steps whose gradients add up before an update."})
    max_length: int = field(default=1024, metadata={"help": "Longest example in tokens; longer ones are truncated."})
    completion_only: bool = field(default=True, metadata={"help": "Train on the completion only, not the prompt."})
    batching: str = field(default="auto", metadata={
        "help": "auto: group_by_length on CPU, packing on GPU (each measured fastest there); group_by_length: "
                "batches of similar length padded to the longest; packing: padding-free packed sequences; "
                "padding: random batches padded to their longest."})
    compile: str = field(default="auto", metadata={
        "help": "torch.compile the model's layers: faster steps after a one-off compilation (about a minute on a "
                "CPU, less once cached). auto: on for CPU runs of at least 100 steps, where it pays for itself."})
    seed: int = field(default=0, metadata={"help": "Seed for initialisation and data order."})
    eval_steps: int = field(default=20, metadata={"help": "Evaluate on the validation split every N steps (0: never)."})
    save_steps: int = field(default=20, metadata={"help": "Checkpoint every N steps, so cancel and crashes lose little."})
    compute_dtype: str = field(default="auto", metadata={
        "help": "auto: bf16 where the device computes it natively (GPUs from Ampere on; CPUs whose bf16 matmul is "
                "measured at least 1.5x as fast as fp32, such as AVX512-BF16 or AMX), else fp32; or float32 / "
                "bfloat16 / float16."})
    double_quant: bool = field(default=True, metadata={"help": "qlora: also quantize the quantization constants."})

    def check(self) -> None:
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}")
        if self.batching not in BATCHING:
            problems.append(f"batching must be one of {', '.join(BATCHING)}")
        if self.compile not in COMPILE:
            problems.append(f"compile must be one of {', '.join(COMPILE)}")
        for name in ("r", "alpha", "batch_size", "grad_accumulation", "max_length"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if not 0 <= self.dropout < 1:
            problems.append("dropout must be in [0, 1)")
        if self.learning_rate <= 0:
            problems.append("learning_rate must be above 0")
        if self.max_steps <= 0 and self.epochs <= 0:
            problems.append("set epochs above 0 or max_steps above 0")
        if problems:
            raise ValueError("Invalid run settings: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def help_texts() -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in fields(TrainConfig)}


def write_yaml(path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def read_yaml(path) -> dict:
    return yaml.safe_load(path.read_text()) or {}
