"""The local-LLM stage: prompt and schema (``prompt``), the llama.cpp backend (``backend``) and
its thread (``worker``), and the linker that turns answers into assignments (``linker``).

Importing this package loads no native code; ``backend`` imports llama_cpp only when a
model is loaded.
"""
