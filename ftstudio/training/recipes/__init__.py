"""Training recipes, one per model family and objective, registered in one place (as TRL pairs a config with a
trainer, and PEFT registers one folder per method).

A recipe says which model family and project task it serves, which methods and which of TrainConfig's settings
apply to it (the Train tab and the CLI offer only those), its own options (a dataclass with help text), what
data its run folder holds, and the function the worker calls. The run spec records the recipe's name; the worker,
the memory estimate, merge and export look it up there instead of branching on the family.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields

from ftstudio.models import CAUSAL, ENCODER, SEQ2SEQ
from ftstudio.training.config import (ClassifierOptions, CptOptions, FeatureOptions, GrpoOptions, Seq2SeqOptions,
                                      option_fields, settings_where)

__all__ = ["RECIPES", "ClassifierOptions", "FeatureOptions", "Recipe", "RecipeError", "Seq2SeqOptions",
           "CptOptions", "GrpoOptions", "choose_recipe", "get_recipe", "option_fields"]

# Which TrainConfig settings each recipe uses, read from the settings' own metadata (training/config.py).
COMMON = settings_where(applies="common")
CAUSAL_ONLY = settings_where(applies="causal")
DPO_ONLY = settings_where(applies="dpo")
BASELINE = settings_where(baseline=True)
# CPT (the loss on every token, always packed) and GRPO (sampled answers) use neither of those two settings.
CPT_SETTINGS = tuple(name for name in COMMON + CAUSAL_ONLY if name not in ("completion_only", "batching")) + \
    ("from_run",)


class RecipeError(ValueError):
    """A model, project and method that no recipe trains together, with what to choose instead."""


@dataclass(frozen=True)
class Recipe:
    name: str
    family: str
    task_types: tuple[str, ...]
    methods: tuple[str, ...]
    settings: tuple[str, ...]
    entry: str                     # module:function the worker calls with the RunFolder
    data: str                      # prompt_completion | preferences | text_label
    summary: str
    options: type | None = None
    splits: tuple[str, ...] = ("train", "validation")
    model_class: str = "AutoModelForCausalLM"
    trains: bool = True            # False: nothing is optimized by gradient steps (the feature baseline)

    def train(self, folder) -> int:
        """Run this recipe on a RunFolder (in the training child); returns the process exit code."""
        module, function = self.entry.split(":")
        return getattr(importlib.import_module(module), function)(folder)

    def read_options(self, values: dict | None):
        """This recipe's options from the run spec or widget values (unknown keys ignored), or None."""
        if self.options is None:
            return None
        known = {f.name for f in fields(self.options)}
        return self.options(**{k: v for k, v in (values or {}).items() if k in known})


RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (
    Recipe("causal_sft", CAUSAL, ("generation", "classification"), ("lora", "qlora"), COMMON + CAUSAL_ONLY,
           "ftstudio.training.recipes.causal:train", "prompt_completion",
           "a causal LM learns to write the outputs (TRL's SFTTrainer)"),
    Recipe("dpo", CAUSAL, ("generation", "classification", "preferences"), ("lora", "qlora"),
           COMMON + CAUSAL_ONLY + DPO_ONLY, "ftstudio.training.recipes.causal:train", "preferences",
           "a causal LM learns to prefer the chosen answer over the rejected one (TRL's DPOTrainer)"),
    Recipe("cpt", CAUSAL, ("generation", "classification", "structured"), ("lora", "qlora"), CPT_SETTINGS,
           "ftstudio.training.recipes.cpt:train", "text",
           "continued pre-training: a causal LM learns a text version's raw text, the loss on every token, packed "
           "to max length (TRL's SFTTrainer)", CptOptions),
    Recipe("grpo", CAUSAL, ("generation", "classification", "structured"), ("lora", "qlora"), CPT_SETTINGS,
           "ftstudio.training.recipes.grpo:train", "prompt_reference",
           "GRPO: a causal LM samples several answers per prompt and learns from rewards the studio computes "
           "(TRL's GRPOTrainer)", GrpoOptions),
    Recipe("sequence_classification", ENCODER, ("classification",), ("lora", "full"), COMMON,
           "ftstudio.training.recipes.classification:train", "text_label",
           "an encoder with a classification head over the project's labels (LoRA with the head trained in full, "
           "or full fine-tuning)", ClassifierOptions, ("train", "validation", "test"),
           "AutoModelForSequenceClassification"),
    Recipe("feature_baseline", ENCODER, ("classification",), ("features",), BASELINE,
           "ftstudio.training.recipes.features:train", "text_label",
           "the frozen encoder's mean-pooled embeddings and a scikit-learn logistic regression: the baseline that "
           "shows what fine-tuning buys", FeatureOptions, ("train", "validation", "test"), "AutoModel", trains=False),
    Recipe("seq2seq", SEQ2SEQ, ("generation", "classification"), ("lora",), COMMON,
           "ftstudio.training.recipes.seq2seq:train", "prompt_completion",
           "an encoder-decoder (T5, BART) learns to write the outputs, the loss on the output tokens only",
           Seq2SeqOptions, model_class="AutoModelForSeq2SeqLM"),
)}

FAMILY_HELP = {
    CAUSAL: "causal LMs (SmolLM2, Llama, Qwen) write text: generation, replies, chat; DPO on preference pairs",
    ENCODER: "encoders (BERT, MiniLM, DistilBERT) classify: a classification head (lora or full), or the feature "
             "baseline (features)",
    SEQ2SEQ: "encoder-decoders (T5, Flan-T5, BART) turn text into text: summaries, rewrites",
}


# The causal LM recipe of each objective other than SFT.
_CAUSAL_BY_OBJECTIVE = {"dpo": "dpo", "cpt": "cpt", "grpo": "grpo"}


def get_recipe(name: str | None, objective: str = "sft") -> Recipe:
    """The recipe a run spec names; run folders written before recipes existed are causal SFT or DPO."""
    if not name:
        return RECIPES[_CAUSAL_BY_OBJECTIVE.get(objective, "causal_sft")]
    if name not in RECIPES:
        raise RecipeError(f"Unknown training recipe {name!r}: this studio knows {', '.join(RECIPES)}.")
    return RECIPES[name]


def choose_recipe(family: str, task_type: str, method: str, objective: str = "sft") -> Recipe:
    """The recipe for a model family, a project's task and a method, or why there is none."""
    if family == CAUSAL:
        recipe = RECIPES[_CAUSAL_BY_OBJECTIVE.get(objective, "causal_sft")]
    elif objective in _CAUSAL_BY_OBJECTIVE:
        raise RecipeError(f"{objective.upper()} trains causal LMs; this base model is an {family}. Choose a causal "
                          f"LM for {objective.upper()}.")
    elif family == ENCODER:
        if task_type != "classification":
            raise RecipeError("This base model is an encoder (BERT-style): it classifies, it does not write text. "
                              "Use it on a classification project, or choose a causal LM or a seq2seq model (T5) "
                              "for generation.")
        recipe = RECIPES["feature_baseline" if method == "features" else "sequence_classification"]
    else:
        recipe = RECIPES["seq2seq"]
    if method not in recipe.methods:
        choices = " or ".join(recipe.methods)
        hint = " (features needs an encoder such as embedded:all-MiniLM-L6-v2)" if method == "features" else ""
        raise RecipeError(f"Method {method} does not apply to a {family} model{hint}: choose {choices}.")
    return recipe
