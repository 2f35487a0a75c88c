"""ROUGE-1, ROUGE-2 and ROUGE-L: the mean F-measure over pairs, stemmed (Google's rouge-score), as the studio reports
them. A local evaluate module: `evaluate.load(path)` reads it from the package, never from the Hub."""

import datasets
import evaluate
from rouge_score import rouge_scorer

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="Lin, ROUGE (2004)",
            inputs_description="predictions: answers; references: the reference answer of each.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
        totals = dict.fromkeys(ROUGE_TYPES, 0.0)
        for prediction, reference in zip(predictions, references):
            for name, score in scorer.score(reference, prediction).items():
                totals[name] += score.fmeasure
        return {name: total / len(predictions) for name, total in totals.items()}
