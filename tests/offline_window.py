"""A coder's session in the real window, recorded by ``engine.core.netguard``: run as its own process.

    python tests/offline_window.py MODEL.gguf WORK_FOLDER

Opens documents, codes them with the model, accepts and rejects through the
window's actions, exports a CSV and closes the window, all while every socket
and process-start attempt is recorded.  Prints one JSON object: what was
recorded and what the session did (so a test can check the work really ran).
Its own process because an audit hook can never be removed again.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.core.netguard import recording

if TYPE_CHECKING:  # the window's modules are imported while recording
    from PySide6.QtCore import QCoreApplication

TEXTS = {
    "fumador.txt": "Paciente fumador de 60 años con inestabilidad de la marcha e hipertensión arterial.\n",
    "urgencias.txt": (
        "Paciente de 58 años que acude a urgencias por dolor torácico y disnea. Antecedentes de "
        "hipertensión arterial y diabetes mellitus tipo 2.\n"
        "Juicio clínico: neumonía adquirida en la comunidad.\n"
    ),
}


def _wait(app: QCoreApplication, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        app.processEvents()
        time.sleep(0.01)


def session(model: Path, work: Path) -> dict[str, object]:
    """Everything a coder does in a day, in small: open, code with the model, review, export, close."""
    from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

    from engine.records.session import DocumentState
    from gui import errors
    from gui.app import application, open_window, wait_for_coding
    from gui.export_dialog import ExportDialog

    app = application()
    window = open_window()
    window.apply_settings(window.settings.with_changes(model=str(model), threads=1, context_size=2048))
    paths = []
    for name, text in TEXTS.items():
        paths.append(work / name)
        paths[-1].write_text(text, encoding="utf-8")
    window.open_paths(paths)
    window.code_new()
    wait_for_coding(window, timeout_s=300)
    documents = window.session.documents
    states = [d.state.value for d in documents]
    assignments = [a for d in documents if d.result for a in d.result.assignments]
    model_answers = sum("llm_answer" in a.provenance for a in assignments)

    accept, reject = window.review.mention_actions[:2]
    for document in documents:
        result = document.result
        if document.state is DocumentState.CODED and result is not None and len(result.assignments) >= 2:
            window.documents.select_key(document.key)
            window.select_mention(0)
            accept.trigger()  # the window then moves on to the next mention
            reject.trigger()
    reviewed = Counter(a.status.value for d in window.session.documents if d.result for a in d.result.assignments)

    target = work / "export" / "coded.csv"
    target.parent.mkdir()
    # The file the coder would choose in the save dialog.
    QFileDialog.getSaveFileName = staticmethod(lambda *args, **kwargs: (str(target), ""))
    window.export()
    dialog = window.dialog
    assert isinstance(dialog, ExportDialog)
    dialog.all.setChecked(True)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    _wait(app, lambda: any(m.startswith("icdlinker\nExported") for m in errors.shown), 30, "the CSV export")
    window.close()
    app.processEvents()
    return {"states": states, "model_answers": model_answers, "reviewed": reviewed,
            "csv_lines": len(target.read_text(encoding="utf-8-sig").splitlines()), "shown": errors.shown}


def main() -> int:
    model, work = Path(sys.argv[1]), Path(sys.argv[2])
    with recording() as attempts:
        done = session(model, work)
    print(json.dumps({**done, "attempts": [a.line() for a in attempts]}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
