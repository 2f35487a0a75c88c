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


def _ollama_template(folder: Path) -> str:
    modelfile = (folder / "Modelfile").read_text()
    assert f'SYSTEM """{SYSTEM}"""' in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "ollama create NAME -f Modelfile" in (folder / "README.md").read_text()
    return re.search(r'^TEMPLATE """(.*?)"""$', modelfile, re.S | re.M).group(1)


@pytest.mark.parametrize("fmt", ["merged", "gguf", "ollama"])
def test_an_export_reloads_agrees_with_the_studio_and_renders_the_runs_template(studio_run, tmp_path, tiny_model_dir,
                                                                                 fmt):
    from transformers import AutoTokenizer

    _, run = studio_run
    seen = []
    result = export_run(Path(run.run_dir), tmp_path / "out", fmt, "f16", progress=lambda f, m: seen.append(f))
    check = result.check
    print(f"{fmt}: agreement {check['agreement']}, max logit difference {check['max_logit_diff']}")
    assert check["prompts"] == 3 and check["positions"] >= 3
    assert check["agreement"] >= 0.97 and check["template_matches"] == 1.0
    assert json.loads((tmp_path / "out" / "check.json").read_text()) == check
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert result.bytes == sum(f.stat().st_size for f in (tmp_path / "out").rglob("*") if f.is_file())
    assert result.quantization == (None if fmt == "merged" else "f16")
    base = AutoTokenizer.from_pretrained(tiny_model_dir)
    question = "Where is pallet 7?"
    own = base.apply_chat_template([{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
                                   add_generation_prompt=True, tokenize=False)
    if fmt == "merged":
        assert {"model.safetensors", "generation_config.json", "tokenizer.json"} <= {
            p.name for p in result.path.iterdir()}
        # The shipped chat template puts the run's system prompt in when a conversation brings none.
        exported = AutoTokenizer.from_pretrained(result.path)
        assert exported.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                            tokenize=False) == own
    elif fmt == "gguf":
        assert list((tmp_path / "out").glob("*.gguf")) == [result.path]
    else:
        assert list(result.path.glob("*.gguf")) == [result.path / f"{run.name}.f16.gguf"]
        template = _ollama_template(result.path)
        assert render_ollama_template(template, SYSTEM, question) == own
        # The answer, once written, ends with the end-of-turn token the stop parameter names.
        assert render_ollama_template(template, SYSTEM, question, "In depot 1.").endswith("In depot 1.<|im_end|>\n")


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
    print(f"gguf q8_0: {payload['check']}")
    assert 0.8 <= payload["check"]["agreement"] <= 1 and payload["check"]["max_logit_diff"] < 1
    again = main(["--home", str(settings.home), "export-model", "--run", str(run.id), "--format", "gguf",
                  str(tmp_path / "out")])
    assert again == 2 and "already exists" in capsys.readouterr().err


def test_the_train_tabs_export_panel_exports_checks_and_offers_the_download(live_app, settings, tiny_model_dir,
                                                                           tmp_path):
    import zipfile

    from gradio_client import Client

    url, store = live_app
    _, run = finished_run(store, settings, tiny_model_dir, tmp_path, template=Template("chat", system=SYSTEM))
    client = Client(url, verbose=False)
    download, check = client.predict(str(run.id), "merged", "f16", api_name="/export_model")
    assert "of greedy next tokens agree with the studio" in check and "largest logit difference" in check
    with zipfile.ZipFile(download) as archive:
        names = set(archive.namelist())
    assert {"model.safetensors", "tokenizer.json", "check.json"} <= names
    _, refused = client.predict("", "gguf", "f16", api_name="/export_model")
    assert "Pick a run" in refused


def test_a_seq2seq_run_exports_merged_and_agrees(tmp_path, tiny_t5_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    run_dir = _bare_run(tmp_path / "run", tiny_t5_dir, dataset_version={"template": {"preset": "instruction"}})
    folder = RunFolder(run_dir)
    torch.manual_seed(5)
    get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(tiny_t5_dir),
                   LoraConfig(r=4, target_modules=["q", "v"], task_type="SEQ_2_SEQ_LM", init_lora_weights=False)
                   ).save_pretrained(folder.adapter_dir)
    folder.write_split("validation", [{"prompt": "summarize : where is pallet 4 ?", "completion": "depot 1"}])
    result = export_run(run_dir, tmp_path / "out", "merged")
    assert (result.path / "model.safetensors").exists() and result.check["prompts"] == 1
    assert result.check["agreement"] >= 0.97 and result.check["positions"] >= 1


@pytest.mark.parametrize("family", ["qwen2", "mistral"])
def test_qwen2_and_mistral_write_gguf_files_transformers_reads_back(tmp_path, tiny_model_dir, family):
    """Qwen2 keeps HF's Q/K layout and its q/k/v biases; Mistral is written as llama, permuted."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, MistralConfig, Qwen2Config

    from ftstudio.shipping.gguf_export import write_gguf

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = {"qwen2": Qwen2Config, "mistral": MistralConfig}[family](
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    for name, parameter in model.named_parameters():
        if name.endswith("bias"):  # Qwen2's q/k/v biases, made large enough to matter
            torch.nn.init.normal_(parameter, std=0.5)
    write_gguf(model, tokenizer, tokenizer.chat_template, tmp_path / "m.gguf", "f16")
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="m.gguf").eval()
    ids = tokenizer("Could you confirm the delivery window?", return_tensors="pt").input_ids
    with torch.inference_mode():
        expected, got = model(ids).logits, back(ids).logits
    assert (expected.argmax(-1) == got.argmax(-1)).all() and (expected - got).abs().max() < 0.01
