"""The self-check every export runs before it says done: the exported model, reloaded from what was written, against
the run as the studio serves it (its base model with the adapter on, loaded by models.py), on a few of the run's
own prompts.

Causal LMs and seq2seq models are compared teacher-forced along the studio's greedy continuation: the studio's
model answers each prompt greedily (up to `new_tokens` tokens, stopping at its end-of-turn tokens), then both models
read that same prompt-and-answer, and at every answer position the check asks whether their greedy next tokens agree
and how far apart their logits are. Encoder classifiers are compared on their label logits for each text. The
prompt's token ids are the studio's for both models, so a tokenizer or template difference cannot hide in the
figures; the export checks those separately (`template_matches`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.models import ENCODER, SEQ2SEQ

CHECK_FILE = "check.json"


@dataclass
class Reference:
    """What the studio's model did with one prompt: the token ids both models read, and its logits there."""

    input_ids: list[int]
    answer_ids: list[int]  # causal: the whole prompt-and-answer; seq2seq: the decoder's input; encoder: []
    start: int             # causal: the first compared position
    logits: object         # a float32 tensor: one row per compared position


def _stop_ids(model, tokenizer) -> list[int]:
    """The end-of-turn ids the studio's generation stops at: the model's, and the tokenizer's EOS."""
    eos = model.generation_config.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
        eos.append(tokenizer.eos_token_id)
    return eos


def studio_reference(model, tokenizer, prompts: list[str], family: str, new_tokens: int = 16) -> list[Reference]:
    """Run the studio's model on each prompt, tokenized as the studio's generation does."""
    import torch

    references = []
    with torch.inference_mode():
        for prompt in prompts:
            if family == ENCODER:
                ids = tokenizer(prompt, truncation=True)["input_ids"]
                logits = model(input_ids=torch.tensor([ids])).logits[0:1].float()
                references.append(Reference(ids, [], 0, logits))
                continue
            ids = tokenizer(prompt, add_special_tokens=family == SEQ2SEQ)["input_ids"]
            batch = torch.tensor([ids])
            output = model.generate(input_ids=batch, attention_mask=torch.ones_like(batch), do_sample=False,
                                    max_new_tokens=new_tokens, eos_token_id=_stop_ids(model, tokenizer),
                                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)[0].tolist()
            if family == SEQ2SEQ:
                decoder = output[:-1] if len(output) > 1 else output
                logits = model(input_ids=batch, decoder_input_ids=torch.tensor([decoder])).logits[0].float()
                references.append(Reference(ids, decoder, 0, logits))
            else:
                logits = model(input_ids=torch.tensor([output])).logits[0, len(ids) - 1:len(output) - 1].float()
                references.append(Reference(ids, output, len(ids) - 1, logits))
    return references


def compare(references: list[Reference], model, family: str) -> dict:
    """{prompts, positions, agreement, max_logit_diff} of a reloaded export against the studio's references."""
    import torch

    agreeing = positions = 0
    largest = 0.0
    with torch.inference_mode():
        for reference in references:
            if family == ENCODER:
                logits = model(input_ids=torch.tensor([reference.input_ids])).logits[0:1].float()
            elif family == SEQ2SEQ:
                logits = model(input_ids=torch.tensor([reference.input_ids]),
                               decoder_input_ids=torch.tensor([reference.answer_ids])).logits[0].float()
            else:
                whole = model(input_ids=torch.tensor([reference.answer_ids])).logits[0].float()
                logits = whole[reference.start:reference.start + len(reference.logits)]
            agreeing += int((logits.argmax(-1) == reference.logits.argmax(-1)).sum())
            positions += len(reference.logits)
            largest = max(largest, float((logits - reference.logits).abs().max()))
    return {"prompts": len(references), "positions": positions,
            "agreement": round(agreeing / positions, 4) if positions else None,
            "max_logit_diff": round(largest, 5)}


def describe(check: dict) -> str:
    """One line for people: how closely the export matches the studio."""
    if not check.get("prompts"):
        return "Not checked: the run folder holds no prompts to check with."
    line = (f"Checked on {check['prompts']} of the run's prompts ({check['positions']} answer tokens): "
            f"{100 * check['agreement']:.1f}% of greedy next tokens agree with the studio, largest logit "
            f"difference {check['max_logit_diff']:.4g}")
    matches = check.get("template_matches")
    if matches is not None:
        line += f"; the exported template renders the studio's prompt for {100 * matches:.0f}% of them"
    return line + "."

