"""Entry point for `make run` and Hugging Face Spaces: build the studio and serve it."""

import os

from ftstudio.config import Settings
from ftstudio.ui.app import serve

if __name__ == "__main__":
    serve(
        Settings(),
        host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
