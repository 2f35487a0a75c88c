"""One merged model as one GGUF file, written with the `gguf` package (GGUFWriter, its tensor-name maps, its
quantizers and SpecialVocab), for the llama-architecture families the studio trains: Llama, SmolLM, Mistral, Qwen2.

What is written follows llama.cpp's convert_hf_to_gguf.py for these families (its LlamaModel and Qwen2Model):
the hyperparameters under the architecture's keys, Llama's Q/K rows permuted into llama.cpp's rotary layout (Qwen2
keeps HF's), 1-D tensors (norms, biases) in f32 and the rest in f16 or q8_0, the output matrix left out when tied to
the embeddings, and a GPT-2-style BPE tokenizer: tokens, token types, merges, special token ids. That script is a
program to run, not a library to import, so the few steps these families need are written here; any other
architecture is refused and pointed at it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

CONVERTER = "llama.cpp's convert_hf_to_gguf.py (https://github.com/ggml-org/llama.cpp)"
QUANTIZATIONS = ("f16", "q8_0")
# model_type -> (the gguf architecture, whether Q/K rows are permuted). Mistral is written as llama, as llama.cpp does.
ARCHITECTURES = {"llama": ("LLAMA", True), "mistral": ("LLAMA", True), "qwen2": ("QWEN2", False)}
# Pre-tokenizer split rules -> llama.cpp's names for them (tokenizer.ggml.pre), for the families above.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


class GGUFExportError(ValueError):
    """A model this exporter does not write as GGUF, with what to do instead."""


def check_architecture(config) -> None:
    """Refuse, before any work, a model this exporter does not write."""
    model_type = getattr(config, "model_type", None)
    if model_type not in ARCHITECTURES:
        raise GGUFExportError(f"GGUF export covers the Llama, SmolLM, Mistral and Qwen2 families; this model is "
                              f"{model_type!r}. Export it as merged and convert that folder with {CONVERTER}.")
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise GGUFExportError(f"This model scales its rotary embeddings ({rope.get('rope_type')}), which this "
                              f"exporter does not write: export it as merged and convert that folder with {CONVERTER}.")


def permute_rows(weights, heads: int, kv_heads: int | None):
    """HF's Q/K projection rows in llama.cpp's rotary layout (convert_hf_to_gguf.py's LlamaModel.permute)."""
    if kv_heads is not None and heads != kv_heads:
        heads = kv_heads
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def pre_tokenizer_name(tokenizer) -> str:
    """llama.cpp's name for the tokenizer's split rule (it picks the regex the runtime splits with), read from
    tokenizer.json; a byte-level BPE tokenizer is required."""
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX as QWEN2_SPLIT

    backend = getattr(tokenizer, "backend_tokenizer", None)
    spec = json.loads(backend.to_str()) if backend is not None else {}
    model, decoder = spec.get("model") or {}, spec.get("decoder") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback") or decoder.get("type") != "ByteLevel":
        raise GGUFExportError(f"GGUF export writes GPT-2-style byte-level BPE tokenizers; this one is not (a "
                              f"sentencepiece-style vocabulary?). Export as merged and convert with {CONVERTER}.")
    pre = spec.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [part.get("type") for part in parts]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits"):
        return "smollm"
    if kinds == ["Split", "ByteLevel"]:
        regex = (parts[0].get("pattern") or {}).get("Regex")
        named = {QWEN2_SPLIT: "qwen2", LLAMA3_SPLIT: "llama-bpe"}.get(regex)
        if named:
            return named
    raise GGUFExportError(f"The tokenizer splits text in a way this exporter does not know ({kinds}): export as "
                          f"merged and convert with {CONVERTER}.")


def _vocabulary(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id and their types, as convert_hf_to_gguf.py's get_vocab_base: special added tokens are CONTROL,
    other added tokens USER_DEFINED, ids the tokenizer lacks padding tokens."""
    import gguf

    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(vocab_size):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.USER_DEFINED)
        elif index in added:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.CONTROL if added[index].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _hyperparameters(writer, config, arch_name: str, quantization: str) -> None:
    import gguf

    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or heads)
    writer.add_rope_freq_base(float(rope.get("rope_theta") or getattr(config, "rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_file_type({"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quantization])
    if arch_name == "LLAMA":
        writer.add_vocab_size(config.vocab_size)
        writer.add_rope_dimension_count(head_dim)
        if head_dim != config.hidden_size // heads:
            writer.add_key_length(head_dim)
            writer.add_value_length(head_dim)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _tokenizer_metadata(writer, tokenizer, vocab_size: int, chat_template: str) -> None:
    import gguf

    tokens, types = _vocabulary(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer_name(tokenizer))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    with tempfile.TemporaryDirectory() as folder:  # SpecialVocab reads merges and special ids from saved files
        tokenizer.save_pretrained(folder)
        special = gguf.SpecialVocab(Path(folder), load_merges=True, n_vocab=vocab_size)
    special.chat_template = chat_template
    # The studio renders the whole prompt (its template writes any BOS) and tokenizes it without adding tokens.
    special.add_special_token = {"bos": False, "eos": False}
    special.add_to_gguf(writer, quiet=True)


def _tensor(data, quantization: str):
    """(array, raw type): 1-D tensors stay f32, as llama.cpp keeps them; q8_0 falls back to f16 for a row length
    that is not a multiple of its block."""
    import gguf
    from gguf.quants import QuantError, quantize

    if data.ndim <= 1:
        return data.astype("float32"), None
    if quantization == "q8_0":
        try:
            return quantize(data, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
        except QuantError:
            pass
    return data.astype("float16"), None


def write_gguf(model, tokenizer, chat_template: str, path: Path, quantization: str = "f16", name: str = "",
               progress: Callable[[float, str], None] | None = None) -> Path:
    """Write a merged causal LM (a transformers model in memory) and its tokenizer to one GGUF file."""
    import gguf

    if quantization not in QUANTIZATIONS:
        raise GGUFExportError(f"Quantization {quantization!r} is not offered: choose {' or '.join(QUANTIZATIONS)}.")
    config = model.config
    check_architecture(config)
    pre_tokenizer_name(tokenizer)  # refuse an unknown tokenizer before writing anything
    arch_name, permuted = ARCHITECTURES[config.model_type]
    arch = getattr(gguf.MODEL_ARCH, arch_name)
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name(name or "ftstudio export")
    _hyperparameters(writer, config, arch_name, quantization)
    _tokenizer_metadata(writer, tokenizer, config.vocab_size, chat_template)
    heads, kv_heads = config.num_attention_heads, getattr(config, "num_key_value_heads", None)
    state = model.state_dict()
    for index, (key, value) in enumerate(state.items()):
        if key.endswith("rotary_emb.inv_freq") or (key == "lm_head.weight" and config.tie_word_embeddings):
            continue
        target = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise GGUFExportError(f"No GGUF name for the tensor {key}: convert a merged export with {CONVERTER}.")
        data = value.detach().float().cpu().numpy()
        if permuted and key.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute_rows(data, heads, heads)
        elif permuted and key.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute_rows(data, heads, kv_heads)
        array, raw_type = _tensor(data, quantization)
        writer.add_tensor(target, array, raw_dtype=raw_type)
        if progress:
            progress(index / len(state), f"converting {key}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
