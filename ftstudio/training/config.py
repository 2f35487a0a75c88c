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

    method: str = field(default="lora", metadata={"help": "lora trains a small adapter on the full model; qlora stores "
                                                           "the base model in 4 bits and uses about a quarter of its "
                                                           "memory, for models too big to fit otherwise."})
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
        "help": "How examples are grouped into a step. auto picks what was measured fastest on this kind of device; "
                "group_by_length: similar lengths together; packing: examples packed end to end; padding: random "
                "batches."})
    compile: str = field(default="auto", metadata={
        "help": "Compile the model first: each step gets faster after a one-off wait of about a minute. auto: on "
                "for CPU runs of 100 steps or more, where it pays for itself."})
    seed: int = field(default=0, metadata={"help": "Seed for initialisation and data order."})
    eval_steps: int = field(default=20, metadata={"help": "Evaluate on the validation split every N steps (0: never)."})
    save_steps: int = field(default=20, metadata={"help": "Checkpoint every N steps, so cancel and crashes lose little."})
    compute_dtype: str = field(default="auto", metadata={
        "help": "auto: the faster number format this machine computes well (bf16 when it is measured faster here, "
                "else fp32); or force float32 / bfloat16 / float16."})
    double_quant: bool = field(default=True, metadata={"help": "qlora: saves a little more memory (about 0.4 bits per "
                                                                "weight), at no cost in quality."})
    divergence_factor: float = field(default=3.0, metadata={
        "help": "Stop the run, saying why, when the loss grows above this many times its first value or is not a "
                "number: the learning rate is too high. 0 never stops."})

    def check(self) -> None:
        """Refuse settings no run can use, with the problem in the words the Train tab shows."""
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}")
        if self.batching not in BATCHING:
            problems.append(f"batching must be one of {', '.join(BATCHING)}")
        if self.compile not in COMPILE:
            problems.append(f"compile must be one of {', '.join(COMPILE)}")
        ranges = {"r": (1, 1024), "alpha": (1, 4096), "batch_size": (1, 4096), "grad_accumulation": (1, 1024),
                  "max_length": (16, 131072)}
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not low <= value <= high:
                problems.append(f"{name.replace('_', ' ')} must be between {low} and {high:,} (it is {value})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be at least 0 and below 1 (it is {self.dropout})")
        if not 0 < self.learning_rate <= 0.1:
            problems.append(f"learning rate must be above 0 and at most 0.1; LoRA usually trains at 1e-4 to 5e-4 "
                            f"(it is {self.learning_rate:g})")
        if not 0 <= self.warmup_ratio < 1:
            problems.append(f"warmup ratio must be at least 0 and below 1 (it is {self.warmup_ratio:g})")
        if self.max_steps < 0:
            problems.append(f"max steps must be 0 (use epochs) or more (it is {self.max_steps})")
        if self.epochs < 0 or self.epochs > 1000:
            problems.append(f"epochs must be between 0 and 1,000 (it is {self.epochs:g})")
        if self.max_steps == 0 and self.epochs <= 0:
            problems.append("set epochs above 0, or max steps above 0")
        for name in ("eval_steps", "save_steps"):
            if getattr(self, name) < 0 or (name == "save_steps" and self.save_steps == 0):
                problems.append(f"{name.replace('_', ' ')} must be {'1' if name == 'save_steps' else '0'} or more")
        if self.divergence_factor and self.divergence_factor <= 1:
            problems.append("stop when the loss grows must be above 1 (times the first loss), or 0 to never stop")
        if problems:
            raise ValueError("Check the run settings: " + "; ".join(problems) + ".")

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
