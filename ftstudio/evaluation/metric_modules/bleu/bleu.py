"""Corpus BLEU (sacrebleu, 0-100) of answers against one reference each, as the studio reports it. A local
evaluate module: `evaluate.load(path)` reads it from the package, never from the Hub."""

import datasets
import evaluate

from ftstudio.evaluation.metric_modules import scores


class Bleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="Post, A Call for Clarity in Reporting BLEU Scores (2018)",
            inputs_description="predictions: answers; references: the reference answer of each.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return scores.bleu(predictions, references)
