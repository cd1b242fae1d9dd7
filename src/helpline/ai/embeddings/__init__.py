"""Embedders (local MiniLM ONNX, OpenAI-compatible, fake), chosen in ai/factory.py."""
