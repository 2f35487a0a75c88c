"""Shared fixtures: a fresh studio per test, a tiny random Llama with its own tokenizer, a live app."""

from __future__ import annotations

import os
import socket

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Training and generation children take the SCHED_IDLE policy in the app, so that people's clicks come first; in
# the suite two busy pytest-xdist workers could leave such a child no CPU at all and a test waiting on it would
# time out, so here they keep the ordinary policy (still at nice 10). tests/test_device.py checks the default.
os.environ.setdefault("FTSTUDIO_WORKER_SCHED", "normal")
# Under pytest-xdist (`make test`), the workers share the cores: each one's torch (and the training and generation
# children it starts, which inherit this) takes its share of threads rather than all of them, so two workers'
# OpenMP pools do not spin against each other on a 2-core machine. Set before anything imports torch.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1)
                                                       // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

from ftstudio.config import Settings  # noqa: E402
from ftstudio.store import open_store  # noqa: E402
from ftstudio.training.device import cpp_compiler  # noqa: E402

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# torch.compile builds C++ kernels on a CPU; .ci/run installs g++ where it is missing.
needs_compiler = pytest.mark.skipif(not cpp_compiler(),
                                    reason="torch.compile on a CPU needs a C++ compiler (apt install g++)")


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(home=tmp_path / "studio")
    settings.ensure_dirs()
    return settings


@pytest.fixture
def store(settings):
    store = open_store(settings.database_path)
    yield store
    store.close()


@pytest.fixture
def project(store):
    return store.create_project("posts", "generation")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama and a small BPE tokenizer trained here, saved as a normal model folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = ["Dashboards nobody reads cost more than they show.", "Could you confirm the delivery window?",
              "user assistant system", "Forecasts beat gut feeling when the data is clean."] * 20
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None)
    fast.chat_template = CHATML
    # hidden_size 64, not smaller: bitsandbytes' CPU 4-bit kernels in bf16 (chosen on CPUs with native bf16) need
    # every input width to hold at least one 64-value quantization block, as any real model's does.
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True)
    import torch

    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition` until it returns something true; fail the test (never hang it) after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"Gave up after {timeout:.0f} s waiting for {what}.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_app(settings, tiny_model_dir):
    """The real app served on a free local port, backed by a fresh studio and the tiny model."""
    from ftstudio.ui.app import serve

    settings.base_model = str(tiny_model_dir)
    port = free_port()
    app, store, manager = serve(settings, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/", store
    manager.stop_polling()
    app.close()
    store.close()


TOGETHER = ("tests/browser/", "tests/test_load.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` with the browser and load tests in one group, run on one worker: two Chromium sessions, or
    Chromium and sixteen simulated people, on two cores at once would starve each other. Grouped here by path:
    pytest-xdist 3.8 reads `xdist_group` marks by renaming node ids, which pytest 9 no longer allows."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserAndLoadTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:  # the scope a test is scheduled with: one group, or itself
            return "browser_and_load" if nodeid.startswith(TOGETHER) else nodeid

    return BrowserAndLoadTogether(config, log)


def shared_temp(tmp_path_factory):
    """A temporary folder all pytest-xdist workers of this run share (the session's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def embedded_model_cache(tmp_path_factory):
    """A model cache holding the embedded SmolLM2 converted once for the whole run (about 30 s), by whichever
    worker gets there first, the others waiting on a file lock."""
    from filelock import FileLock

    from ftstudio.models import materialize

    cache = shared_temp(tmp_path_factory) / "embedded-cache"
    with FileLock(f"{cache}.lock"):
        cache.mkdir(exist_ok=True)
        materialize("embedded:SmolLM2-135M-Instruct", cache)
    return cache


@pytest.fixture
def embedded_settings(settings, embedded_model_cache):
    """Settings on the real embedded model, sharing the session's converted copy."""
    for converted in embedded_model_cache.iterdir():
        (settings.model_cache / converted.name).symlink_to(converted, target_is_directory=True)
    settings.base_model = "embedded:SmolLM2-135M-Instruct"
    return settings


@pytest.fixture
def chat_server():
    """Start loopback chat-completions servers with scripted replies (closed after the test)."""
    from ftstudio.bench.chat_server import ChatServer

    servers = []

    def make(replies=None, default=None):
        servers.append(ChatServer(replies, default))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


ENCODER_WORDS = ("verify your account password now click link urgent suspended gift cards bank details pallet "
                 "delivery window invoice forecast depot team meeting thanks shipment arrives monday report "
                 "message the a is on for to of and please").split()


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    """A tiny random BERT (saved as a bare BertModel, as sentence-transformers saves MiniLM) with a word-level
    WordPiece vocabulary."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *ENCODER_WORDS, *[str(n) for n in range(10)], "#", ":"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True, model_max_length=128)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=128, pad_token_id=0)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory):
    """A tiny random T5 with a word-level tokenizer (no sentencepiece model needed), saved as a model folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    words = ["<pad>", "</s>", "<unk>", *ENCODER_WORDS, *[str(n) for n in range(10)], "summary", "pallet", "late",
             "summarize", ":", ".", "?", "where", "is", "depot", "in"]
    vocabulary = {word: index for index, word in enumerate(dict.fromkeys(words))}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                       pre_tokenizers.Punctuation()])
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")
    config = T5Config(vocab_size=len(vocabulary), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
                      num_heads=4, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path
