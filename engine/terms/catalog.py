"""Code catalogs: which codes exist in an edition, their titles and hierarchy.

Every stage that proposes a code checks it here, so an invalid code can never
reach the coder or an export.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine.core.codes import Edition, normalize_code
from engine.core.errors import CatalogError
from engine.core.resources import compiled_dir, load_compiled

__all__ = ["Catalog", "CatalogNode"]

_CODE_KINDS = frozenset({"category", "subcategory", "code"})


@dataclass(frozen=True, slots=True)
class CatalogNode:
    code: str
    kind: str  # chapter, block, category, subcategory, code
    parent: str | None
    titles: dict[str, str]


class Catalog:
    """All nodes of one edition, indexed by code."""

    def __init__(self, edition: Edition, name: str, nodes: dict[str, CatalogNode]) -> None:
        self.edition = edition
        self.name = name
        self._nodes = nodes
        self._children: dict[str, list[str]] | None = None

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        try:
            data = load_compiled(path)
            nodes = {
                code: CatalogNode(code, kind, parent, titles) for code, kind, parent, titles in data["nodes"]
            }
            return cls(Edition(data["edition"]), data["name"], nodes)
        except FileNotFoundError as error:
            raise CatalogError(f"catalog file missing: {path}") from error
        except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
            raise CatalogError(f"catalog file damaged: {path} ({error})") from error

    @staticmethod
    @cache
    def bundled(edition: Edition) -> Catalog:
        """The catalog shipped with the app (loaded once per process)."""
        return Catalog.from_file(compiled_dir() / f"{Edition(edition).value}.catalog.json.gz")

    def __len__(self) -> int:
        return len(self._nodes)

    def node(self, code: str) -> CatalogNode | None:
        try:
            return self._nodes.get(normalize_code(code))
        except ValueError:
            return self._nodes.get(code)  # chapter and block ranges

    def is_valid(self, code: str) -> bool:
        """Whether ``code`` is a codable entry (category or deeper) of this edition."""
        node = self.node(code)
        return node is not None and node.kind in _CODE_KINDS

    def title(self, code: str, language: str) -> str:
        """Title in ``language``, else English, else any; the nearest ancestor's if none."""
        node = self.node(code)
        while node is not None:
            titles = node.titles
            title = titles.get(language) or titles.get("en") or next(iter(titles.values()), "")
            if title:
                return title
            node = self._nodes.get(node.parent) if node.parent else None
        return ""

    def parent(self, code: str) -> str | None:
        node = self.node(code)
        return node.parent if node else None

    def roots(self) -> list[str]:
        """The top of the hierarchy (the chapters), in code order."""
        return sorted(node.code for node in self._nodes.values() if node.parent is None)

    def children(self, code: str) -> list[str]:
        if self._children is None:
            children: dict[str, list[str]] = {}
            for node in self._nodes.values():
                if node.parent:
                    children.setdefault(node.parent, []).append(node.code)
            self._children = children
        node = self.node(code)
        return sorted(self._children.get(node.code, [])) if node else []

    def codes(self) -> list[CatalogNode]:
        """Every codable node (category and deeper)."""
        return [node for node in self._nodes.values() if node.kind in _CODE_KINDS]
