"""The studio's DPO: TRL's DPOTrainer on a LoRA adapter, whose reference model is that adapter switched off
(or, when the run starts from an earlier run's adapter, a frozen copy of that small adapter): never a second copy
of the base weights.

TRL 1.x truncates prompt and answer together to one `max_length`, from the end; a long prompt can then leave no
answer to learn from. The studio keeps the end of the prompt (where the question sits, and the chat template's
generation prompt) and the start of each answer, each to its own limit, as TRL's older DPOTrainer did.
"""

from __future__ import annotations

from trl import DPOConfig, DPOTrainer

from ftstudio.training.harness import trainer_arguments


def dpo_config(run_dir, config, precision, has_validation: bool) -> DPOConfig:
    """TRL's DPOConfig for a run: the shared arguments and the DPO loss settings."""
    return DPOConfig(
        **trainer_arguments(run_dir, config, precision, has_validation),
        beta=config.beta,
        loss_type=[config.loss_type],
        label_smoothing=config.label_smoothing,
        max_length=config.sequence_length,
    )


class StudioDPOTrainer(DPOTrainer):
    def __init__(self, *args, max_prompt_length: int, max_completion_length: int, **kwargs):
        self.max_prompt_length = max_prompt_length
        self.max_completion_length = max_completion_length
        super().__init__(*args, **kwargs)

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        prompt_limit, answer_limit = self.max_prompt_length, self.max_completion_length

        def truncate(example):
            return {"prompt_ids": example["prompt_ids"][-prompt_limit:],
                    "chosen_ids": example["chosen_ids"][:answer_limit],
                    "rejected_ids": example["rejected_ids"][:answer_limit]}

        return dataset.map(truncate)

    def save_adapter(self, folder) -> None:
        """Only the trained adapter: TRL's frozen "ref" copy (present when starting from a run) stays out."""
        self.model.save_pretrained(str(folder), selected_adapters=["default"])
