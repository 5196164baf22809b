"""Bundled resources: sample documents (more with the LLM stage and the window)."""
