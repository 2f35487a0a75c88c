"""Macro-F1 (scikit-learn) over the project's labels: every label counts the same, whatever its support; a label
never predicted nor true scores 0. A local evaluate module: `evaluate.load(path)` reads it from the package."""

import datasets
import evaluate

from ftstudio.evaluation.metric_modules import scores


class MacroF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="",
            inputs_description="predictions: the label each answer names; references: the true labels; labels: "
                               "the project's label set.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references, labels=None):
        return scores.macro_f1(predictions, references, labels)
