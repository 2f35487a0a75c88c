"""Accuracy: the share of predicted labels equal to the true label. A local evaluate module: `evaluate.load(path)`
reads it from the package, never from the Hub."""

import datasets
import evaluate

from ftstudio.evaluation.metric_modules import scores


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="",
            inputs_description="predictions: the label each answer names; references: the true labels.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return scores.accuracy(predictions, references)
