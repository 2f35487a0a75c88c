"""`ftstudio train`'s flags and the Train tab's settings come from TrainConfig's field metadata."""

import argparse

import pytest

from ftstudio.training.config import (DPO_LEARNING_RATE, TrainConfig, add_train_arguments, choices_of,
                                      recipe_options_from_args, settings_where, train_config_from_args)
from ftstudio.training.recipes import RECIPES

FLAGS = ["--objective", "--method", "--r", "--alpha", "--dropout", "--target-modules", "--learning-rate", "--scheduler",
         "--warmup-ratio", "--epochs", "--max-steps", "--batch-size", "--grad-accumulation", "--max-length",
         "--completion-only", "--batching", "--compile", "--seed", "--eval-steps", "--save-steps", "--compute-dtype",
         "--double-quant", "--divergence-factor", "--processes", "--sharding", "--beta", "--loss-type",
         "--label-smoothing", "--max-prompt-length", "--max-completion-length", "--from-run", "--report-to",
         "--weighted-loss", "--regularization", "--max-target-length",
         # issue 26: continued pre-training's and GRPO's recipe options
         "--train-embeddings", "--reward", "--num-generations", "--max-new-tokens", "--judge", "--judge-model",
         "--judge-concurrency"]


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser()
    add_train_arguments(built)
    return built


def test_every_flag_of_ftstudio_train_is_kept_with_its_default_in_the_help():
    actions = [a for a in parser()._actions if a.option_strings and a.dest != "help"]
    assert [a.option_strings[0] for a in actions] == FLAGS
    defaults = TrainConfig().to_dict()
    for action in actions:
        assert action.default is None  # only what was typed overrides a config's defaults
        if action.dest in defaults:
            assert action.help.endswith(f"[{defaults[action.dest]}]")


def test_typed_flags_become_a_config_and_recipe_options():
    parsed = parser().parse_args(["--batch-size", "2", "--no-completion-only", "--weighted-loss", "--beta", "0.2",
                                  "--objective", "dpo"])
    config = train_config_from_args(parsed)
    assert (config.batch_size, config.completion_only, config.beta) == (2, False, 0.2)
    assert config.learning_rate == DPO_LEARNING_RATE and config.max_length == TrainConfig().max_length
    assert recipe_options_from_args(parsed) == {"weighted_loss": True}
    shorthand = train_config_from_args(parser().parse_args(["--method", "dpo"]))
    assert (shorthand.objective, shorthand.method) == ("dpo", "lora")
    with pytest.raises(SystemExit):
        parser().parse_args(["--method", "fine"])


def test_groups_and_recipes_read_the_same_metadata():
    assert settings_where(group="main") == ("r", "alpha", "learning_rate", "epochs", "max_steps", "batch_size",
                                            "max_length")
    dpo_only = set(RECIPES["dpo"].settings) - set(RECIPES["causal_sft"].settings)
    assert dpo_only == set(settings_where(group="dpo")) == set(settings_where(applies="dpo"))
    assert RECIPES["feature_baseline"].settings == ("method", "batch_size", "max_length", "seed")
    assert choices_of("loss_type")[0] == "sigmoid" and choices_of("r") is None
    every = {f for group in ("objective", "main", "more", "dpo") for f in settings_where(group=group)}
    assert every == set(TrainConfig().to_dict())  # no setting left without a place


def test_the_start_from_run_help_fits_a_dropdown_of_runs():
    from dataclasses import fields

    (start,) = [f for f in fields(TrainConfig) if f.name == "from_run"]
    assert "id" not in start.metadata["help"].split() and "finished run" in start.metadata["help"]
