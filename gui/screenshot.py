"""``python -m gui.screenshot docs/window.png``: the real window, offscreen, with real coded samples.

For the documentation, and to look at the window on a machine without a display.
The samples are coded with the bundled dictionaries (and ``--model`` if given); a
few review decisions are made so every status style shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from engine.core.resources import resources_dir
from engine.records.settings import AppSettings
from gui.app import application, coded_sample_window
from gui.code_picker import CodePickerDialog
from gui.main_window import MainWindow

__all__ = ["main"]

_SAMPLES = ("es/alta-neumologia.txt", "es/consulta-urologia.txt", "en/discharge-summary.txt",
            "de/entlassbrief.txt", "fr/compte-rendu.txt", "el/exitirio.txt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--model", default="", help="also link with this model (.gguf path or installed id)")
    parser.add_argument("--size", default="1440x860", help="window size, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # read when the application starts, below
    application()
    width, height = (int(n) for n in args.size.lower().split("x"))
    settings = AppSettings().with_changes(model=args.model)
    with tempfile.TemporaryDirectory(prefix="icdlinker-screenshot-") as folder:
        os.environ["ICDLINKER_DATA_DIR"] = folder
        samples = [resources_dir() / "samples" / sample for sample in _SAMPLES]
        window = coded_sample_window(Path(folder), samples, settings)
        window.resize(width, height)
        window.show()
        review = window.review
        for act in (review.accept, review.accept, review.reject, review.next, review.accept):
            act()
        _correct(window, "neumonía", "neumonía lobar")
        window.select_mention(6)
        application().processEvents()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.output)):
            print(f"could not write {args.output}", file=sys.stderr)
            return 1
        window.close()
    print(args.output)
    return 0


def _correct(window: MainWindow, mention: str, query: str) -> None:
    """Change a mention's code through the code picker, as a coder would."""
    document = window.current_document()
    assert document is not None and document.result is not None
    window.select_mention(next(i for i, a in enumerate(document.result.assignments) if a.mention.text == mention))
    window.review.change_code()
    picker = window.dialog
    assert isinstance(picker, CodePickerDialog)
    while not picker.is_ready():
        application().processEvents()
    picker.query.setText(query)
    picker.accept()


if __name__ == "__main__":
    sys.exit(main())
