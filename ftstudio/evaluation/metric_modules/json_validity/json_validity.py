"""JSON validity: the share of answers that parse as JSON, and, given a JSON Schema, the share that conform to it
(None without a schema, or when the schema itself is broken). A local evaluate module: `evaluate.load(path)` reads
it from the package, never from the Hub."""

import datasets
import evaluate

from ftstudio.evaluation.metric_modules import scores


class JsonValidity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="",
            inputs_description="predictions: answers; schema: an optional JSON Schema (a dict).",
            features=datasets.Features({"predictions": datasets.Value("string")}))

    def _compute(self, predictions, schema=None):
        return scores.json_validity(predictions, schema)
