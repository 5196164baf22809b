"""Local GGUF models: the curated catalog, file validation, memory estimates and the store.

Importing this package never imports huggingface_hub; only ``ModelStore.download`` does.

Layer 3: may import ``core`` (models are a store of files; they know nothing of linking).
"""

from engine.models.catalog import CatalogModel, find_catalog_model, load_model_catalog
from engine.models.gguf import GGUFInfo, read_gguf_info
from engine.models.memory import MemoryEstimate, check_fits, estimate_memory
from engine.models.store import InstalledModel, ModelStore

__all__ = [
    "CatalogModel",
    "GGUFInfo",
    "InstalledModel",
    "MemoryEstimate",
    "ModelStore",
    "check_fits",
    "estimate_memory",
    "find_catalog_model",
    "load_model_catalog",
    "read_gguf_info",
]
