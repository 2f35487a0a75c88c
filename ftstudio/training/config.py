"""Run settings as a dataclass with help text, saved in the run folder (ftstudio/run_folder.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

METHODS = ("lora", "qlora", "full", "features")
OBJECTIVES = ("sft", "dpo")
# The DPO losses TRL's DPOTrainer offers for pairs (TRL's loss_type), with what each is for.
DPO_LOSSES = {
    "sigmoid": "the DPO paper's loss (the default)",
    "ipo": "IPO: a squared loss that does not push the margin without bound, steadier on small or noisy data",
    "hinge": "SLiC: a hinge on the margin",
    "robust": "robust DPO: assumes some preference labels are flipped (set by label smoothing)",
    "bco_pair": "BCO: chosen and rejected scored as separate binary classes",
    "sppo_hard": "SPPO with hard labels",
    "nca_pair": "NCA: keeps the chosen answer's likelihood from falling",
    "apo_zero": "APO-zero: raises the chosen, lowers the rejected (when chosen answers beat the model's own)",
    "apo_down": "APO-down: lowers both, the rejected more (when chosen answers are not better than the model's)",
    "exo_pair": "EXO: the reverse KL form of DPO",
}
# DPO moves an already useful model a little: its usual learning rate with LoRA is far below SFT's.
DPO_LEARNING_RATE = 5e-5
BATCHING = ("auto", "group_by_length", "packing", "padding")
COMPILE = ("auto", "on", "off")


@dataclass
class TrainConfig:
    """Everything that decides what a run does. Defaults measured on a 2-core CPU and fit a 135M model."""

    objective: str = field(default="sft", metadata={
        "help": "sft learns to write the outputs of input/output pairs; dpo learns to prefer the chosen answer over "
                "the rejected one in preference pairs (DPO), starting from the base model or an earlier run."})
    method: str = field(default="lora", metadata={"help": "lora trains a small adapter on the full model; qlora stores "
                                                           "the base model in 4 bits and uses about a quarter of its "
                                                           "memory, for models too big to fit otherwise; full trains "
                                                           "every weight (small encoders); features (encoders, "
                                                           "classification) fits a logistic regression on the frozen "
                                                           "model's embeddings, a baseline in seconds."})
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

    beta: float = field(default=0.1, metadata={
        "help": "dpo: how far the model may move from where it started; lower lets it move further (0.1 is usual, "
                "0.01-0.5 the useful range)."})
    loss_type: str = field(default="sigmoid", metadata={
        "help": "dpo: the preference loss. sigmoid is DPO's own; ipo is steadier on small or noisy data; robust "
                "assumes some labels are flipped (label smoothing); the others are TRL's variants."})
    label_smoothing: float = field(default=0.0, metadata={
        "help": "dpo, robust loss: the share of preference labels assumed wrong (0.1 is typical; below 0.5)."})
    max_prompt_length: int = field(default=512, metadata={
        "help": "dpo: longest prompt in tokens; a longer one keeps its end (where the question is)."})
    max_completion_length: int = field(default=512, metadata={
        "help": "dpo: longest chosen or rejected answer in tokens; longer ones keep their start."})
    from_run: int = field(default=0, metadata={
        "help": "dpo: the id of a finished run whose adapter this run starts from and is compared against (its "
                "LoRA settings are kept); 0 starts a new adapter on the base model."})

    @property
    def is_dpo(self) -> bool:
        return self.objective == "dpo"

    @property
    def sequence_length(self) -> int:
        """The longest sequence a step sees: a whole example for SFT, prompt plus answer for DPO."""
        return self.max_prompt_length + self.max_completion_length if self.is_dpo else self.max_length

    def check(self) -> None:
        """Refuse settings no run can use, with the problem in the words the Train tab shows."""
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}")
        if self.objective not in OBJECTIVES:
            problems.append(f"objective must be one of {', '.join(OBJECTIVES)}")
        if self.loss_type not in DPO_LOSSES:
            problems.append(f"loss type must be one of {', '.join(DPO_LOSSES)}")
        if not 0 < self.beta <= 10:
            problems.append(f"beta must be above 0 and at most 10; 0.1 is usual (it is {self.beta:g})")
        if not 0 <= self.label_smoothing < 0.5:
            problems.append(f"label smoothing must be at least 0 and below 0.5 (it is {self.label_smoothing:g})")
        for name in ("max_prompt_length", "max_completion_length"):
            if not 8 <= getattr(self, name) <= 65536:
                problems.append(f"{name.replace('_', ' ')} must be between 8 and 65,536 (it is {getattr(self, name)})")
        if self.from_run < 0 or (self.from_run and not self.is_dpo):
            problems.append("from run is for dpo runs: the id of the run to start from, or 0")
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
