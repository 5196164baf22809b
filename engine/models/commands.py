"""``icdlinker models list|download|import|remove|select``: the model store on the command line.

engine/cli.py adds these with :func:`register` and dispatches ``models`` to :func:`run`;
engine errors propagate to its one error handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from engine.models.catalog import load_model_catalog
from engine.models.store import InstalledModel, ModelStore

__all__ = ["register", "run"]

_GB = 1024**3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` command and its actions to the CLI's subparsers."""
    models = subparsers.add_parser("models", help="list, download, import, remove or select GGUF models")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="installed models; --catalog: the recommended models")
    listing.add_argument("--catalog", action="store_true", help="show the curated catalog with sizes and RAM")
    download = actions.add_parser(
        "download", help="download a catalog model or OWNER/REPO/FILE.gguf (the only network use)"
    )
    download.add_argument("model", metavar="ID|REPO/FILE")
    add = actions.add_parser("import", help="add a .gguf file from this computer (copied into the store)")
    add.add_argument("path", type=Path)
    add.add_argument("--reference", action="store_true", help="use the file where it is, not a copy")
    add.add_argument("--id", dest="model_id", help="the name to give it (default: from the file name)")
    remove = actions.add_parser("remove", help="remove a model (a referenced original file is kept)")
    remove.add_argument("id")
    select = actions.add_parser("select", help="choose the model the LLM stage uses")
    select.add_argument("id")


def run(args: argparse.Namespace) -> int:
    """Run one ``models`` action; returns the exit code."""
    store = ModelStore()
    action = args.models_command
    if action == "list":
        print(_catalog_table(store) if args.catalog else _installed_table(store))
        return 0
    if action == "select":
        print(f"selected {store.select(args.id).id}")
        return 0
    if action == "remove":
        model = store.remove(args.id)
        print(f"removed {model.id}" + ("" if model.copied else f"; the original {model.path} was kept"))
        return 0
    bar = _ByteBar()
    try:
        if action == "download":
            model = store.download(args.model, bar)
        else:
            copy = not args.reference
            model = store.import_file(args.path, copy=copy, model_id=args.model_id, progress=bar)
    finally:
        bar.close()
    print(f"installed {model.id}: {model.size_bytes / _GB:.2f} GB, {model.architecture}")
    print(f"  sha256 {model.sha256}")
    print(f"  {model.path}")
    if store.selected() is None:
        print(f"select it with: icdlinker models select {model.id}")
    return 0


def _installed_table(store: ModelStore) -> str:
    models = store.list()
    if not models:
        return "no models installed; see 'icdlinker models list --catalog' and 'icdlinker models download ID'"
    selected = store.selected()
    rows = [("", "id", "size", "architecture", "context", "source")]
    for m in models:
        mark = "*" if selected and m.id == selected.id else ("!" if not m.available else "")
        size = f"{m.size_bytes / _GB:.1f} GB"
        rows.append((mark, m.id, size, m.architecture, str(m.context_length), _source(m)))
    legend = "* selected" + ("   ! file missing" if any(not m.available for m in models) else "")
    return _table(rows) + "\n" + legend


def _catalog_table(store: ModelStore) -> str:
    installed = {m.id for m in store.list()}
    rows = [("", "id", "download", "RAM (4k ctx)", "languages", "licence")]
    for m in load_model_catalog():
        rows.append((
            "+" if m.id in installed else "", m.id, f"{m.size_bytes / 1e9:.1f} GB", f"{m.ram_gb:.1f} GB",
            " ".join(m.languages), m.licence,
        ))
    return _table(rows) + "\n+ installed; download one with: icdlinker models download ID"


def _source(model: InstalledModel) -> str:
    kind, _, where = model.source.partition(":")
    return f"{kind} {where}" + ("" if model.copied else " (referenced)")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


class _ByteBar:
    """Bytes on stderr through tqdm, one bar per phase (copying, downloading, verifying)."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._message = ""

    def update(self, done: int, total: int, message: str) -> None:
        if self._bar is None or message != self._message:
            self.close()
            self._message = message
            self._bar = tqdm(
                total=total or None, desc=message, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=None, dynamic_ncols=True,
            )
        self._bar.update(done - self._bar.n)

    def cancelled(self) -> bool:
        return False  # Ctrl+C interrupts instead; a download resumes on the next run

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
