"""Exact match: the share of answers equal to their reference up to case and whitespace. A local evaluate module:
`evaluate.load(path)` reads it from the package, never from the Hub."""

import datasets
import evaluate

from ftstudio.evaluation.metric_modules import scores


class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="",
            inputs_description="predictions: answers; references: the reference answer of each.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return scores.exact_match(predictions, references)
