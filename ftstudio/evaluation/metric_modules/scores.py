"""The built-in metrics' arithmetic, shared by their evaluate modules (<name>/<name>.py, for `evaluate.load`) and by
the studio, which calls these directly: `import evaluate` imports transformers' pipelines and torch in every
process that shows results, the CLI's `report` and `metrics` included (docs/benchmarks.md), for scores that need none of them.
Each function takes the keyword arguments its evaluate module's `compute` takes and returns the same dict."""

from __future__ import annotations

import json

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge(predictions, references) -> dict:
    """ROUGE-1/2/L: the mean F-measure over pairs, stemmed (Google's rouge-score)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, reference in zip(predictions, references):
        for name, score in scorer.score(reference, prediction).items():
            totals[name] += score.fmeasure
    return {name: total / len(predictions) for name, total in totals.items()}


def bleu(predictions, references) -> dict:
    """sacrebleu's corpus BLEU, 0-100."""
    import sacrebleu

    return {"bleu": sacrebleu.corpus_bleu(list(predictions), [list(references)]).score}


def normalized(text):
    return " ".join((text or "").split()).casefold()


def exact_match(predictions, references) -> dict:
    """The share of answers equal to their reference, ignoring case and spacing."""
    same = sum(normalized(p) == normalized(r) for p, r in zip(predictions, references))
    return {"exact_match": same / len(predictions)}


def accuracy(predictions, references) -> dict:
    return {"accuracy": sum(p == t for p, t in zip(predictions, references)) / len(predictions)}


def macro_f1(predictions, references, labels=None) -> dict:
    from sklearn.metrics import f1_score

    return {"macro_f1": float(f1_score(list(references), list(predictions), labels=labels, average="macro",
                                       zero_division=0))}


def checks(output, schema):
    """(is valid JSON, conforms to the schema or None without one)."""
    import jsonschema

    try:
        value = json.loads(output)
    except ValueError:
        return False, (False if schema else None)
    if not schema:
        return True, None
    try:
        jsonschema.validate(value, schema)
        return True, True
    except jsonschema.ValidationError:
        return True, False
    except jsonschema.SchemaError:
        return True, None


def json_validity(predictions, schema=None) -> dict:
    results = [checks(output, schema) for output in predictions]
    conforming = [ok for _, ok in results if ok is not None]
    return {"json_valid": sum(valid for valid, _ in results) / len(results),
            "schema_valid": (sum(conforming) / len(conforming)) if conforming else None}


SCORES = {"rouge": rouge, "bleu": bleu, "exact_match": exact_match, "accuracy": accuracy, "macro_f1": macro_f1,
          "json_validity": json_validity}
