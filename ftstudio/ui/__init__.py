"""The browser app: the only package that imports gradio."""
