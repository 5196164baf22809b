"""Linking: detection of mentions, the dictionary stage, candidate retrieval, the LLM stage
(``llm``), and the one pipeline that runs them, reports progress and honours cancel.

Layer 4: may import ``core``, ``text``, ``terms`` and ``models``.
"""
