"""Run settings as a dataclass with help text, saved in the run folder (ftstudio/run_folder.py)."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields

from ftstudio.training.distributed import SHARDINGS

METHODS = ("lora", "qlora", "full", "features")
OBJECTIVES = ("sft", "dpo", "cpt", "grpo")
# Objectives of causal LMs that may start from an earlier run's adapter (--from-run): CPT, then SFT, then DPO chain.
CHAIN_OBJECTIVES = ("sft", "dpo", "cpt", "grpo")
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
# Experiment trackers a run may report to through transformers' report_to ("none": nowhere).
TRACKERS = ("trackio", "mlflow", "wandb", "none")
COMPILE = ("auto", "on", "off")
SCHEDULERS = ("cosine", "linear", "constant")
COMPUTE_DTYPES = ("auto", "float32", "bfloat16", "float16")
# Each setting's metadata says where it sits and which recipes use it, as TRL's configs carry their help: group is
# objective (chosen first), main, more (the Train tab's "More settings") or dpo; applies is common (every trained
# recipe), causal (causal LMs) or dpo; baseline marks the few the feature baseline reads. The Train tab, the CLI's
# flags and the recipes all read it from here.


def setting(default, help: str, group: str, applies: str = "common", choices=None, baseline: bool = False):
    """A TrainConfig field with its metadata: the help text, where it sits, which recipes use it, its choices."""
    metadata = {"help": help, "group": group, "applies": applies}
    if choices:
        metadata["choices"] = tuple(choices)
    if baseline:
        metadata["baseline"] = True
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Everything that decides what a run does. Defaults measured on a 2-core CPU and fit a 135M model."""

    objective: str = setting(
        "sft", "sft learns to write the outputs of input/output pairs; dpo learns to prefer the chosen answer over "
        "the rejected one in preference pairs (DPO), starting from the base model or an earlier run; cpt continues "
        "pre-training on a text version's raw text (every token, packed to max length); grpo samples answers and "
        "learns from rewards the studio computes (valid JSON of the schema, the right label, a judge's score).",
        "objective", "causal", OBJECTIVES)
    method: str = setting(
        "lora", "lora trains a small adapter on the full model; qlora stores the base model in 4 bits and uses about "
        "a quarter of its memory, for models too big to fit otherwise; full trains every weight (small encoders); "
        "features (encoders, classification) fits a logistic regression on the frozen model's embeddings, a "
        "baseline in seconds.", "objective", choices=METHODS, baseline=True)
    r: int = setting(16, "LoRA rank: capacity of the adapter.", "main")
    alpha: int = setting(32, "LoRA alpha: the adapter's scale is alpha / r.", "main")
    # 0 by measurement: dropout made each step slower on CPUs for the same validation loss (docs/benchmarks.md).
    dropout: float = setting(0.0, "Dropout on the LoRA path (0 measured fastest, same loss).", "more")
    target_modules: str = setting("all-linear", "Layers to adapt: all-linear, or comma-separated names.", "more")
    learning_rate: float = setting(2e-4, "Peak learning rate.", "main")
    scheduler: str = setting("cosine", "Learning-rate schedule: cosine, linear or constant.", "more",
                             choices=SCHEDULERS)
    warmup_ratio: float = setting(0.05, "Share of steps spent warming the learning rate up.", "more")
    epochs: float = setting(2.0, "Passes over the training split (ignored when max_steps > 0).", "main")
    max_steps: int = setting(0, "Stop after this many optimizer steps; 0 means use epochs.", "main")
    batch_size: int = setting(4, "Examples per device per step.", "main", baseline=True)
    grad_accumulation: int = setting(1, "Steps whose gradients add up before an update.", "more")
    max_length: int = setting(1024, "Longest example in tokens; longer ones are truncated.", "main", baseline=True)
    completion_only: bool = setting(True, "Train on the completion only, not the prompt.", "more", "causal")
    batching: str = setting(
        "auto", "How examples are grouped into a step. auto picks what was measured fastest on this kind of device; "
        "group_by_length: similar lengths together; packing: examples packed end to end; padding: random batches.",
        "more", "causal", BATCHING)
    compile: str = setting(
        "auto", "Compile the model first: each step gets faster after a one-off wait of about a minute. auto: on "
        "for CPU runs of 100 steps or more, where it pays for itself.", "more", "causal", COMPILE)
    seed: int = setting(0, "Seed for initialisation and data order.", "more", baseline=True)
    eval_steps: int = setting(20, "Evaluate on the validation split every N steps (0: never).", "more")
    save_steps: int = setting(20, "Checkpoint every N steps, so cancel and crashes lose little.", "more")
    compute_dtype: str = setting(
        "auto", "auto: the faster number format this machine computes well (bf16 when it is measured faster here, "
        "else fp32); or force float32 / bfloat16 / float16.", "more", choices=COMPUTE_DTYPES)
    double_quant: bool = setting(True, "qlora: saves a little more memory (about 0.4 bits per weight), at no cost "
                                       "in quality.", "more", "causal")
    divergence_factor: float = setting(
        3.0, "Stop the run, saying why, when the loss grows above this many times its first value or is not a "
        "number: the learning rate is too high. 0 never stops.", "more")
    processes: int = setting(
        1, "Training processes, data parallel through accelerate: one per GPU (or several on a CPU, over gloo). Each "
        "trains on batch size examples a step, so the global batch is batch size x accumulation x processes.", "more")
    sharding: str = setting(
        "none", "With several GPUs: none (data parallel: each GPU holds the whole model), fsdp (weights, gradients "
        "and optimizer states split across the GPUs), deepspeed-zero2 (gradients and optimizer states split) or "
        "deepspeed-zero3 (all three split; needs deepspeed).", "more", choices=SHARDINGS)

    beta: float = setting(
        0.1, "dpo: how far the model may move from where it started; lower lets it move further (0.1 is usual, "
        "0.01-0.5 the useful range).", "dpo", "dpo")
    loss_type: str = setting(
        "sigmoid", "dpo: the preference loss. sigmoid is DPO's own; ipo is steadier on small or noisy data; robust "
        "assumes some labels are flipped (label smoothing); the others are TRL's variants.", "dpo", "dpo",
        DPO_LOSSES)
    label_smoothing: float = setting(
        0.0, "dpo, robust loss: the share of preference labels assumed wrong (0.1 is typical; below 0.5).", "dpo",
        "dpo")
    max_prompt_length: int = setting(
        512, "dpo: longest prompt in tokens; a longer one keeps its end (where the question is).", "dpo", "dpo")
    max_completion_length: int = setting(
        512, "dpo: longest chosen or rejected answer in tokens; longer ones keep their start.", "dpo", "dpo")
    from_run: int = setting(
        0, "A finished run whose adapter this run starts from and is compared against (its LoRA settings are "
        "kept), for any causal objective (cpt, then sft, then dpo); without one (0), a new adapter on the base "
        "model.", "dpo", "dpo")

    report_to: str = setting(
        "", "Report this run's curves to experiment trackers too: trackio (a local folder under the studio; a "
        "Space only when you push it), mlflow, wandb (when installed and configured), comma-separated; none: "
        "nowhere; empty: the studio's setting (off by default).", "more")

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
        if self.from_run < 0 or (self.from_run and self.objective not in CHAIN_OBJECTIVES):
            problems.append("from run is the id of the run to start from, or 0")
        unknown = [name for name in self.report_to.replace(" ", "").split(",") if name and name not in TRACKERS]
        if unknown:
            problems.append(f"report to takes {', '.join(TRACKERS)} (comma-separated), not {', '.join(unknown)}")
        if not 1 <= self.processes <= 64:
            problems.append(f"processes must be between 1 and 64 (it is {self.processes})")
        if self.sharding not in SHARDINGS:
            problems.append(f"sharding must be one of {', '.join(SHARDINGS)}")
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


def settings_where(**wanted) -> tuple[str, ...]:
    """TrainConfig's field names whose metadata has every key=value given, in declaration order
    (e.g. group="main", applies="dpo", baseline=True)."""
    return tuple(f.name for f in fields(TrainConfig) if all(f.metadata.get(k) == v for k, v in wanted.items()))


def choices_of(name: str) -> tuple[str, ...] | None:
    """The values a setting may take, when it is one of a few."""
    return next(f.metadata.get("choices") for f in fields(TrainConfig) if f.name == name)


# --- recipe options: each recipe's own settings, beside TrainConfig -------------------------------------------


@dataclass
class ClassifierOptions:
    """Options of the encoder classifier."""

    weighted_loss: bool = field(default=False, metadata={
        "help": "classification: weigh each class's loss by how rare it is in the training split (total / "
                "(classes x count)), so a minority class (phishing in a 2:1 inbox) counts as much as the majority."})


@dataclass
class FeatureOptions:
    """Options of the feature baseline: a logistic regression on the frozen encoder's embeddings."""

    weighted_loss: bool = field(default=False, metadata={
        "help": "classification: weigh classes by how rare they are (scikit-learn's class_weight='balanced')."})
    regularization: float = field(default=1.0, metadata={
        "help": "features: the logistic regression's inverse regularization strength C (smaller: simpler model)."})


@dataclass
class Seq2SeqOptions:
    """Options of the encoder-decoder recipe."""

    max_target_length: int = field(default=256, metadata={
        "help": "seq2seq: longest output in tokens; longer ones are truncated (inputs follow max length)."})


@dataclass
class CptOptions:
    """Options of continued pre-training."""

    train_embeddings: bool = field(default=False, metadata={
        "help": "cpt: train the input embeddings and the LM head in full beside the LoRA adapter (as CPT recipes do "
                "for a new domain's vocabulary); the adapter then holds a copy of both, much larger."})


@dataclass
class GrpoOptions:
    """Options of GRPO with verifiable rewards (TRL's GRPOTrainer)."""

    reward: str = field(default="", metadata={
        "help": "grpo: comma-separated rewards, summed: json_schema (valid JSON of the project's schema), "
                "label_match (names the right label), exact_match (the reference's words), length (close to the "
                "reference's length), judge (a 1-10 score from --judge), or path.py:function(prompt, completion, "
                "example). Default: json_schema for structured projects, label_match for classification, "
                "exact_match otherwise."})
    num_generations: int = field(default=4, metadata={
        "help": "grpo: answers sampled per prompt; each is scored against the others' mean reward."})
    max_new_tokens: int = field(default=128, metadata={
        "help": "grpo: longest sampled answer in tokens."})
    judge: str = field(default="", metadata={
        "help": "grpo, judge reward: the OpenAI-compatible endpoint's base URL (its key from FTSTUDIO_JUDGE_API_KEY, "
                "OPENAI_API_KEY or the studio's secret store)."})
    judge_model: str = field(default="", metadata={"help": "grpo, judge reward: the model the endpoint serves."})
    judge_concurrency: int = field(default=4, metadata={"help": "grpo, judge reward: requests in flight at once."})


RECIPE_OPTIONS = (ClassifierOptions, FeatureOptions, Seq2SeqOptions, CptOptions, GrpoOptions)


def option_fields() -> dict[str, object]:
    """Every recipe option by name (the CLI's flags), the first options class declaring a name giving its help."""
    found = {}
    for options in RECIPE_OPTIONS:
        for option in fields(options):
            found.setdefault(option.name, option)
    return found


# --- the CLI's flags, built from the same metadata --------------------------------------------------------------

# `--method dpo` is the CLI's shorthand for `--objective dpo --method lora`.
METHOD_SHORTHANDS = ("dpo",)


def _add_flag(group, name: str, f) -> None:
    option = "--" + name.replace("_", "-")
    default = f.default
    if isinstance(default, bool):
        group.add_argument(option, dest=name, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{f.metadata['help']} [{default}]")
    elif name == "method":
        group.add_argument(option, dest=name, choices=[*f.metadata["choices"], *METHOD_SHORTHANDS], default=None,
                           help=f"{f.metadata['help']} dpo: the same as --objective dpo with lora. [{default}]")
    else:
        group.add_argument(option, dest=name, type=type(default), default=None,
                           help=f"{f.metadata['help']} [{default}]")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """`ftstudio train`'s run settings and recipe options, one flag per field (--batch-size ...), each defaulting to
    None so that only what was typed overrides the config's defaults."""
    group = parser.add_argument_group("run settings (defaults in brackets)")
    for f in fields(TrainConfig):
        _add_flag(group, f.name, f)
    recipes = parser.add_argument_group("recipe options (the recipe follows the base model's family)")
    for name, f in option_fields().items():
        _add_flag(recipes, name, f)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the typed flags describe (the rest at their defaults; DPO at DPO's usual learning rate)."""
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if values.get("method") in METHOD_SHORTHANDS:  # `--method dpo`: DPO on a LoRA adapter
        values.update(objective="dpo", method="lora")
    if values.get("objective") == "dpo":
        values.setdefault("learning_rate", DPO_LEARNING_RATE)
    return TrainConfig.from_dict(values)


def recipe_options_from_args(args: argparse.Namespace) -> dict:
    """The recipe options typed as flags (create_run's `options`)."""
    return {name: getattr(args, name) for name in option_fields() if getattr(args, name, None) is not None}
