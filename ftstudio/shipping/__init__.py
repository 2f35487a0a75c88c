"""Shipping a finished run: export as a merged Hugging Face folder, one GGUF file or an Ollama model, each checked
against the run as the studio serves it before it says done; and the OpenAI-compatible server."""
