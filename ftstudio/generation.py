"""Generation with the studio's models: one lazily loaded base model per app, shared by its tabs."""

from __future__ import annotations

import threading

from ftstudio.config import Settings
from ftstudio.models import generate_text, load_model, load_tokenizer
from ftstudio.spaces_gpu import gpu


@gpu(duration=60)
def _generate_on_device(model, tokenizer, prompts, max_new_tokens, system):
    """On a GPU when there is one (on ZeroGPU, only inside this call), else where the model is."""
    import torch

    if torch.cuda.is_available() and model.device.type != "cuda":
        model.to("cuda")
    return generate_text(model, tokenizer, prompts, max_new_tokens, system)


class BaseModel:
    """The configured base model, loaded on first use (GGUF conversion included) and kept for the app's life.

    One instance per app, passed to whoever needs it: never a module global, since
    Gradio shares module state between every user of the server.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded = None
        self._tokenizer = None
        self._loading: threading.Thread | None = None
        self.load_error: str | None = None

    def load_in_background(self) -> None:
        """Start loading now (the app calls this at start), so the first draft does not wait for it."""
        def load():
            try:
                self.load()
            except Exception as error:  # shown where the model is used, as the reason it cannot draft
                self.load_error = f"{type(error).__name__}: {error}"

        if self._loading is None:
            self._loading = threading.Thread(target=load, name="ftstudio-base-model", daemon=True)
            self._loading.start()

    @property
    def status(self) -> str:
        """loading, ready, failed or idle (not asked for yet)."""
        if self._loaded is not None:
            return "ready"
        if self.load_error:
            return "failed"
        return "loading" if self._loading is not None else "idle"

    def load(self):
        with self._lock:
            if self._loaded is None:
                self.settings.ensure_dirs()
                tokenizer = load_tokenizer(self.settings.base_model, self.settings.model_cache)
                model = load_model(self.settings.base_model, self.settings.model_cache)
                model.eval()
                self._loaded = (model, tokenizer)
            return self._loaded

    @property
    def tokenizer(self):
        """The tokenizer alone (template previews need no weights), shared with the model once loaded."""
        with self._lock:
            if self._loaded is not None:
                return self._loaded[1]
            if self._tokenizer is None:
                self.settings.ensure_dirs()
                self._tokenizer = load_tokenizer(self.settings.base_model, self.settings.model_cache)
            return self._tokenizer

    def generate(self, prompts: list[str], max_new_tokens: int = 96, system: str | None = None) -> list[str]:
        model, tokenizer = self.load()
        with self._lock:  # one generation at a time: torch on two cores gains nothing from more
            return _generate_on_device(model, tokenizer, prompts, max_new_tokens, system)
