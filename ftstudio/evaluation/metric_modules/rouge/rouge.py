"""ROUGE-1, ROUGE-2 and ROUGE-L: the mean F-measure over pairs, stemmed (Google's rouge-score), as the studio reports
them. A local evaluate module: `evaluate.load(path)` reads it from the package, never from the Hub."""

import datasets
import evaluate

from ftstudio.evaluation.metric_modules import scores


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="Lin, ROUGE (2004)",
            inputs_description="predictions: answers; references: the reference answer of each.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return scores.rouge(predictions, references)
