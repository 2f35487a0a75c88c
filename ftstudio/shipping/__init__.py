"""Shipping a run: export (merged, GGUF, Ollama) with its self-check, and the OpenAI-compatible server."""
