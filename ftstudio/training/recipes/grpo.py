"""GRPO with verifiable rewards (TRL's GRPOTrainer) on a LoRA or QLoRA adapter: for each prompt the model samples
`num_generations` answers, the rewards score them (training/rewards.py), and each answer is pushed up or down by
how far its reward is above or below its group's mean. TRL logs the mean reward and each reward's mean per step;
the studio's callback writes them to metrics.jsonl like any other figure."""

from __future__ import annotations

import math

from ftstudio.run_folder import RunFolder
from ftstudio.training.harness import (StopRun, begin_run, load_base, lora_config, start_from_adapter,
                                       train_to_the_end, trainer_arguments)


def grpo_config(run_dir, config, precision, options):
    """TRL's GRPOConfig: the shared arguments, the group size, and a generation batch both the batch size and the
    group size divide (TRL requires both). Evaluation is off: it would sample answers for every validation prompt."""
    from trl import GRPOConfig

    arguments = trainer_arguments(run_dir, config, precision, has_validation=False)
    return GRPOConfig(
        **arguments,
        num_generations=options.num_generations,
        max_completion_length=options.max_new_tokens,
        generation_batch_size=math.lcm(config.batch_size * config.grad_accumulation, options.num_generations),
    )


def reward_functions(spec, folder: RunFolder) -> list:
    """The run's rewards as TRL calls them, in the order the spec names them."""
    from ftstudio.training.judge_reward import JudgeReward
    from ftstudio.training.rewards import JUDGE, REWARDS, batched, load_user_reward

    context = spec.extra.get("reward_context") or {}
    found = []
    for name in spec.extra.get("rewards") or []:
        if name == JUDGE:
            found.append(JudgeReward(context.get("judge") or {}, folder.path))
        elif name in REWARDS:
            found.append(batched(name, REWARDS[name], context))
        else:
            function = load_user_reward(name, folder.path)
            found.append(batched(function.__name__, function, context))
    return found


def train(folder: RunFolder) -> int:
    """GRPO on the run folder's prompts (prompt, reference, label)."""
    from datasets import load_dataset
    from peft import prepare_model_for_kbit_training
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from ftstudio.training.recipes import get_recipe

    context = begin_run(folder)
    config, precision, spec = context.config, context.precision, context.spec
    options = get_recipe(spec.recipe).read_options(spec.recipe_options)
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base(spec.base_model_path, config, precision.dtype)
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=precision.gradient_checkpointing)
    model, peft_config = start_from_adapter(model, folder, lora_config(config))
    rewards = reward_functions(spec, folder)
    if not rewards:
        raise StopRun("This GRPO run names no reward: start it again with --reward.")
    data = load_dataset("json", data_files={"train": str(folder.split_path("train"))})
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=grpo_config(folder.path, config, precision, options),
                          train_dataset=data["train"], processing_class=tokenizer, peft_config=peft_config,
                          callbacks=context.callbacks())

    def save(_output) -> None:
        trainer.model.save_pretrained(str(folder.adapter_dir))
        tokenizer.save_pretrained(str(folder.adapter_dir))

    return train_to_the_end(context, trainer, save, False)
