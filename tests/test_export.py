"""Export of a finished run (merged, GGUF f16 and q8_0, Ollama), each reloaded from what was written and checked
against the run as the studio serves it; the Modelfile's template against the tokenizer's own rendering; refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ftstudio.config import Settings
from ftstudio.run_folder import RunFolder, RunSpec
from ftstudio.shipping.chat_templates import render_ollama_template
from ftstudio.shipping.export import ExportError, export_run
from ftstudio.store import open_store
from ftstudio.templates import Template
from tests.evaluation_fixtures import finished_run

SYSTEM = "Answer in one short line."


@pytest.fixture(scope="module")
def studio_run(tmp_path_factory, tiny_model_dir):
    """A studio with one finished run of the tiny Llama (a random LoRA adapter on every linear layer), trained on
    the chat preset with a system prompt; the store is closed again so the CLI can open it."""
    root = tmp_path_factory.mktemp("export-studio")
    settings = Settings(home=root / "studio")
    settings.ensure_dirs()
    store = open_store(settings.database_path)
    _, run = finished_run(store, settings, tiny_model_dir, root, template=Template("chat", system=SYSTEM))
    store.close()
    return settings, run


@pytest.mark.parametrize("fmt, quantization, least", [("merged", None, 0.97), ("gguf", "f16", 0.97),
                                                     ("gguf", "q8_0", 0.8), ("ollama", "f16", 0.97)])
def test_an_export_reloads_and_agrees_with_the_studio(studio_run, tmp_path, fmt, quantization, least):
    _, run = studio_run
    seen = []
    result = export_run(Path(run.run_dir), tmp_path / "out", fmt, quantization, progress=lambda f, m: seen.append(f))
    check = result.check
    print(f"{fmt} {quantization}: agreement {check['agreement']}, max logit difference {check['max_logit_diff']}")
    assert check["prompts"] == 3 and check["positions"] >= 3
    assert check["agreement"] >= least and check["template_matches"] == 1.0
    assert json.loads((tmp_path / "out" / "check.json").read_text()) == check
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert result.bytes == sum(f.stat().st_size for f in (tmp_path / "out").rglob("*") if f.is_file())
    if fmt == "merged":
        assert {"model.safetensors", "generation_config.json", "tokenizer.json"} <= {
            p.name for p in result.path.iterdir()}
    else:
        assert list((tmp_path / "out").glob("*.gguf")) == ([result.path] if fmt == "gguf" else
                                                            [result.path / f"{run.name}.f16.gguf"])


def test_the_modelfile_renders_the_run_template_as_the_tokenizer_does(studio_run, tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    _, run = studio_run
    folder = export_run(Path(run.run_dir), tmp_path / "ollama", "ollama", "f16").path
    modelfile = (folder / "Modelfile").read_text()
    template = re.search(r'^TEMPLATE """(.*?)"""$', modelfile, re.S | re.M).group(1)
    assert f'SYSTEM """{SYSTEM}"""' in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "ollama create NAME -f Modelfile" in (folder / "README.md").read_text()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    question = "Where is pallet 7?"
    own = tokenizer.apply_chat_template([{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
                                        add_generation_prompt=True, tokenize=False)
    assert render_ollama_template(template, SYSTEM, question) == own
    # The answer, once written, ends with the end-of-turn token the stop parameter names.
    assert render_ollama_template(template, SYSTEM, question, "In depot 1.").endswith("In depot 1.<|im_end|>\n")


def test_a_merged_export_carries_the_runs_system_prompt_in_its_chat_template(studio_run, tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    _, run = studio_run
    folder = export_run(Path(run.run_dir), tmp_path / "merged", "merged").path
    exported, base = AutoTokenizer.from_pretrained(folder), AutoTokenizer.from_pretrained(tiny_model_dir)
    user = [{"role": "user", "content": "Where is pallet 3?"}]
    assert exported.apply_chat_template(user, add_generation_prompt=True, tokenize=False) == \
        base.apply_chat_template([{"role": "system", "content": SYSTEM}] + user, add_generation_prompt=True,
                                 tokenize=False)


def _bare_run(folder: Path, base_model_path: Path, **spec) -> Path:
    """A run folder holding only what an export reads first: run.yaml and an adapter marker."""
    RunFolder(folder).path.mkdir(parents=True)
    RunFolder(folder).write_spec(RunSpec(base_model="x", base_model_path=str(base_model_path), **spec))
    RunFolder(folder).adapter_dir.mkdir()
    (RunFolder(folder).adapter_dir / "adapter_config.json").write_text("{}")
    return folder


def test_an_architecture_outside_the_llama_families_is_refused_with_the_converter_named(tmp_path):
    from transformers import GPT2Config

    base = tmp_path / "gpt2"
    GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64, architectures=["GPT2LMHeadModel"]).save_pretrained(base)
    run_dir = _bare_run(tmp_path / "run", base, dataset_version={"template": {"preset": "chat"}})
    with pytest.raises(ValueError, match="convert_hf_to_gguf.py") as refused:
        export_run(run_dir, tmp_path / "out", "gguf", "f16")
    assert "'gpt2'" in str(refused.value) and not (tmp_path / "out").exists()


def test_an_encoder_classifier_exports_merged_with_its_labels(tmp_path, tiny_encoder_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    labels = ["delivery", "spam", "other"]
    run_dir = _bare_run(tmp_path / "run", tiny_encoder_dir, labels=labels, recipe="classification")
    folder = RunFolder(run_dir)
    torch.manual_seed(3)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_encoder_dir, num_labels=len(labels))
    get_peft_model(model, LoraConfig(r=4, target_modules=["query", "value"], task_type="SEQ_CLS",
                                     init_lora_weights=False)).save_pretrained(folder.adapter_dir)
    folder.write_split("validation", [{"text": "the pallet arrives monday", "label": "delivery"},
                                      {"text": "verify your account password now", "label": "spam"}])
    with pytest.raises(ExportError, match="merged only"):
        export_run(run_dir, tmp_path / "gguf", "gguf", "f16")
    result = export_run(run_dir, tmp_path / "out", "merged")
    assert json.loads((result.path / "labels.json").read_text())["id2label"] == {"0": "delivery", "1": "spam",
                                                                                "2": "other"}
    assert result.check["prompts"] == 2 and result.check["agreement"] == 1.0
    assert result.check["max_logit_diff"] < 1e-3 and result.check["template_matches"] is None


def test_cli_export_model_prints_the_json_shape(studio_run, tmp_path, capsys):
    from ftstudio.cli import main

    settings, run = studio_run
    code = main(["--home", str(settings.home), "export-model", "--run", str(run.id), "--format", "gguf",
                 "--quantization", "q8_0", str(tmp_path / "out"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and set(payload) == {"format", "path", "bytes", "quantization", "check"}
    assert set(payload["check"]) == {"prompts", "agreement", "max_logit_diff"}
    assert payload["format"] == "gguf" and payload["quantization"] == "q8_0" and payload["path"].endswith(".gguf")
    assert payload["bytes"] > 0 and payload["check"]["prompts"] == 3
    again = main(["--home", str(settings.home), "export-model", "--run", str(run.id), "--format", "gguf",
                  str(tmp_path / "out")])
    assert again == 2 and "already exists" in capsys.readouterr().err
