"""A catalog being built: its nodes (code, kind, parent, titles per language) and its compiled form.

Chapters and blocks are keyed by their code range; every other code's kind follows from its
length, so the engine never has to guess a level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BLOCK", "CHAPTER", "CODE_KINDS", "Catalog", "Node", "as_range", "kind_of"]

CHAPTER, BLOCK = "chapter", "block"
CODE_KINDS = frozenset({"category", "subcategory", "code"})


def kind_of(code: str) -> str:
    """Level of a normalized code: N28 category, N28.1 subcategory, longer code."""
    return {3: "category", 5: "subcategory"}.get(len(code), "code")


def as_range(first: str, last: str) -> str:
    """A chapter/block code; single-category blocks keep both ends ("B99-B99")."""
    return f"{first}-{last}"


@dataclass
class Node:
    """One catalog entry; ``titles`` maps language → title."""

    code: str
    kind: str
    parent: str | None
    titles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Version:
    """One release of an edition: the codes a coder may submit as final in it (its terminal codes)."""

    name: str
    terminal: frozenset[str]


@dataclass
class Catalog:
    """An edition's nodes by code, with what the compiled file says about itself.

    ``versions`` maps a version id ("2018", "2026") to its terminal codes, all nodes
    of this tree; the first one is the default (the version the edition's bundled dictionary
    was coded in).
    """

    edition: str
    name: str
    languages: tuple[str, ...]
    attribution: str
    nodes: dict[str, Node] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)

    def add(self, code: str, kind: str, parent: str | None, titles: dict[str, str]) -> Node:
        """Add a node; a repeated code means the source was misread, so it fails."""
        if code in self.nodes:
            raise ValueError(f"{self.edition}: duplicate node {code}")
        node = Node(code, kind, parent, {lang: t for lang, t in titles.items() if t})
        self.nodes[code] = node
        return node

    def codes(self) -> frozenset[str]:
        """Codes a term may point to (chapters and blocks are not codable)."""
        return frozenset(code for code, node in self.nodes.items() if node.kind in CODE_KINDS)

    def prefix_parent(self, code: str) -> str | None:
        """The longest shorter code present (N28.12 → N28.1 → N28)."""
        for length in range(len(code) - 1, 2, -1):
            candidate = code[:length].rstrip(".")
            if candidate != code and candidate in self.nodes:
                return candidate
        return None

    def leaves(self) -> frozenset[str]:
        """Codable nodes without children: the terminal codes of the version the tree is."""
        parents = {node.parent for node in self.nodes.values()}
        return frozenset(code for code in self.codes() if code not in parents)

    def kind_counts(self) -> dict[str, int]:
        """Number of nodes per kind, for the build report."""
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            counts[node.kind] = counts.get(node.kind, 0) + 1
        return counts

    def to_json(self) -> dict[str, object]:
        """The compiled form; nodes in tree pre-order with children sorted by code."""
        children: dict[str | None, list[str]] = {}
        for node in self.nodes.values():
            children.setdefault(node.parent, []).append(node.code)
        ordered: list[list[object]] = []
        stack = sorted(children.get(None, []), reverse=True)
        while stack:
            node = self.nodes[stack.pop()]
            ordered.append([node.code, node.kind, node.parent, dict(sorted(node.titles.items()))])
            stack.extend(sorted(children.get(node.code, []), reverse=True))
        if len(ordered) != len(self.nodes):
            raise ValueError(f"{self.edition}: {len(self.nodes) - len(ordered)} nodes unreachable")
        return {
            "format": 1,
            "edition": self.edition,
            "name": self.name,
            "attribution": self.attribution,
            "languages": list(self.languages),
            "nodes": ordered,
            "versions": {
                version_id: {"name": version.name, "terminal": sorted(version.terminal)}
                for version_id, version in self.versions.items()
            },
            "default_version": next(iter(self.versions)),
        }
