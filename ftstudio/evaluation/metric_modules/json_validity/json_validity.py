"""JSON validity: the share of answers that parse as JSON, and, given a JSON Schema, the share that conform to it
(None without a schema, or when the schema itself is broken). A local evaluate module: `evaluate.load(path)` reads
it from the package, never from the Hub."""

import json

import datasets
import evaluate
import jsonschema


def checks(output, schema):
    """(is valid JSON, conforms to the schema or None without one)."""
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


class JsonValidity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="",
            inputs_description="predictions: answers; schema: an optional JSON Schema (a dict).",
            features=datasets.Features({"predictions": datasets.Value("string")}))

    def _compute(self, predictions, schema=None):
        results = [checks(output, schema) for output in predictions]
        conforming = [ok for _, ok in results if ok is not None]
        return {"json_valid": sum(valid for valid, _ in results) / len(results),
                "schema_valid": (sum(conforming) / len(conforming)) if conforming else None}
