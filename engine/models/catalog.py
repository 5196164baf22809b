"""The curated list of recommended models, bundled as ``resources/models.json``.

Curated rather than searched: a coder picks from a handful of checked, single-file
GGUF models with known sizes, licences and memory needs, not from the whole hub.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import ModelError
from engine.core.resources import resources_dir

__all__ = ["CatalogModel", "find_catalog_model", "load_model_catalog"]


@dataclass(frozen=True)
class CatalogModel:
    id: str
    name: str
    repo_id: str
    filename: str
    size_bytes: int
    quantization: str
    licence: str
    ram_gb: float
    languages: tuple[str, ...]
    notes: str


def load_model_catalog(path: Path | None = None) -> list[CatalogModel]:
    """The bundled catalog, smallest model first."""
    path = path or resources_dir() / "models.json"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["models"]
        models = [CatalogModel(**{**entry, "languages": tuple(entry["languages"])}) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelError(
            f"the model catalog {path} is missing or damaged ({error})",
            hint="Reinstall the application.",
        ) from None
    return sorted(models, key=lambda m: m.size_bytes)


def find_catalog_model(model_id: str) -> CatalogModel | None:
    """The catalog entry called ``model_id`` (case-insensitive), if any."""
    wanted = model_id.casefold()
    return next((m for m in load_model_catalog() if m.id.casefold() == wanted), None)
