"""Code catalogs: which codes exist in an edition, their titles and hierarchy.

Every stage that proposes a code checks it here, so an invalid code can never
reach the coder or an export.  Which codes may be submitted as final (the
terminal codes) depends on the edition's version, so the catalog keeps them
per version: CodiEsp was coded in CIE-10-ES 2018, where R51 was terminal,
and ICD-10-CM 2026 has since split it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine.core.codes import Edition, canonical_code
from engine.core.errors import CatalogError
from engine.core.resources import compiled_dir, load_compiled

__all__ = ["Catalog", "CatalogNode", "CatalogVersion"]

_CODE_KINDS = frozenset({"category", "subcategory", "code"})


@dataclass(frozen=True, slots=True)
class CatalogNode:
    code: str
    kind: str  # chapter, block, category, subcategory, code
    parent: str | None
    titles: dict[str, str]


@dataclass(frozen=True, slots=True)
class CatalogVersion:
    """One release of the edition and the codes a coder may submit in it."""

    id: str  # "2018", "2026"
    name: str
    terminal: frozenset[str]


class Catalog:
    """All nodes of one edition, indexed by code, and the terminal codes of each version."""

    def __init__(
        self,
        edition: Edition,
        name: str,
        nodes: dict[str, CatalogNode],
        versions: tuple[CatalogVersion, ...] = (),
    ) -> None:
        """``versions`` first is the default; none given: one unnamed version, the tree's leaves."""
        self.edition = edition
        self.name = name
        self._nodes = nodes
        self._children: dict[str, list[str]] | None = None
        if not versions:
            parents = {node.parent for node in nodes.values()}
            leaves = frozenset(c for c, n in nodes.items() if n.kind in _CODE_KINDS and c not in parents)
            versions = (CatalogVersion("", name, leaves),)
        self.versions = {version.id: version for version in versions}
        self.default_version = versions[0].id

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        try:
            data = load_compiled(path)
            nodes = {
                code: CatalogNode(code, kind, parent, titles) for code, kind, parent, titles in data["nodes"]
            }
            listed = data.get("versions", {})
            default = data.get("default_version")
            versions = sorted(
                (CatalogVersion(vid, v["name"], frozenset(v["terminal"])) for vid, v in listed.items()),
                key=lambda version: version.id != default,
            )
            return cls(Edition(data["edition"]), data["name"], nodes, tuple(versions))
        except FileNotFoundError as error:
            raise CatalogError(f"catalog file missing: {path}") from error
        except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
            raise CatalogError(f"catalog file damaged: {path} ({error})") from error

    @staticmethod
    @cache
    def bundled(edition: Edition) -> Catalog:
        """The catalog shipped with the app (loaded once per process)."""
        return Catalog.from_file(compiled_dir() / f"{Edition(edition).value}.catalog.json.gz")

    @staticmethod
    @cache
    def bundled_topography() -> Catalog:
        """ICD-O-3 topography, the second catalog of the ``icdo3`` edition (its first is morphology)."""
        return Catalog.from_file(compiled_dir() / "icdo3t.catalog.json.gz")

    def __len__(self) -> int:
        return len(self._nodes)

    def node(self, code: str) -> CatalogNode | None:
        try:
            return self._nodes.get(canonical_code(code))
        except ValueError:
            return self._nodes.get(code)  # chapter and block ranges

    def is_valid(self, code: str) -> bool:
        """Whether ``code`` is a codable entry (category or deeper) of this edition."""
        node = self.node(code)
        return node is not None and node.kind in _CODE_KINDS

    def title(self, code: str, language: str) -> str:
        """The title a coder reading ``language`` is shown, the same in every view and export.

        The code's own title in the language; where it has none (CIE-10-ES full codes have
        only English ones), the nearest ancestor's title in the language first and the
        code's specific English wording after it: "Dolor abdominal y pélvico — Unspecified
        abdominal pain".  English, else any title, where no ancestor has the language.
        """
        node = self.node(code)
        if node is None:
            return ""
        own = node.titles.get(language)
        if own:
            return own
        specific = self._any_title(node)
        ancestor = self._nodes.get(node.parent) if node.parent else None
        while ancestor is not None:
            if general := ancestor.titles.get(language):
                return f"{general} — {specific}" if specific else general
            ancestor = self._nodes.get(ancestor.parent) if ancestor.parent else None
        return specific

    def _any_title(self, node: CatalogNode | None) -> str:
        """English, else any title; the nearest ancestor's if the node has none."""
        while node is not None:
            titles = node.titles
            title = titles.get("en") or next(iter(titles.values()), "")
            if title:
                return title
            node = self._nodes.get(node.parent) if node.parent else None
        return ""

    def version(self, version: str | None = None) -> CatalogVersion:
        """The named version, or the default one where ``version`` is None or not of this edition
        (a CM version setting means nothing to the GM catalog)."""
        return self.versions.get(version or "", self.versions[self.default_version])

    def is_terminal(self, code: str, version: str | None = None) -> bool:
        """Whether ``code`` may be submitted as final in ``version`` (it has no children there)."""
        node = self.node(code)
        return node is not None and node.code in self.version(version).terminal

    def in_version(self, code: str, version: str | None = None) -> bool:
        """Whether ``version`` has ``code``: it is terminal there or has terminal codes under it
        (R51.9 is not in CIE-10-ES 2018, whose R51 had no children)."""
        node = self.node(code)
        if node is None:
            return False
        terminal = self.version(version).terminal
        stack = [node.code]
        while stack:  # depth first, stopping at the first terminal code: a few steps
            current = stack.pop()
            if current in terminal:
                return True
            stack.extend(self.children(current))
        return False

    def terminal_descendants(self, code: str, version: str | None = None) -> list[str]:
        """The codes under ``code`` that are terminal in ``version``, in tree order."""
        terminal = self.version(version).terminal
        found: list[str] = []
        stack = list(reversed(self.children(code)))
        while stack:
            child = stack.pop()
            if child in terminal:
                found.append(child)  # not its 7th-character forms below it (CIE-10-ES 2018)
            else:
                stack.extend(reversed(self.children(child)))
        return found

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
