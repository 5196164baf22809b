"""The review window end to end: real documents, the real engine, real widgets offscreen.

Open → code → review (picker, added mention, keyboard) → export; the small Gemma
GGUF for the LLM path; cancel; restore after a killed process; and the bound on
how long the UI thread may stall during a coding run.
"""

from __future__ import annotations

import csv
import faulthandler
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from engine.core.codes import Edition
from engine.core.model import Assignment, Document, DocumentResult, Mention, ReviewStatus, Stage
from engine.core.resources import resources_dir
from engine.records.session import DocumentState, ReviewSession, SessionDocument, default_session_path
from engine.records.session_db import open_session
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog
from gui import errors
from gui.app import open_window, self_check
from gui.code_picker import CodePickerDialog
from gui.export_dialog import ExportDialog
from gui.help_dialog import HelpDialog
from gui.main_window import MainWindow
from gui.model_manager import ModelManagerDialog
from gui.settings_dialog import SettingsDialog
from gui.text_view import PositionMap
from tests.heartbeat import GAP_S, Heartbeat

pytestmark = pytest.mark.usefixtures("messages")

CODIESP_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp" / "dev" / "text_files"
SAMPLE = resources_dir() / "samples" / "es" / "alta-neumologia.txt"
URGENCIAS = (
    "Paciente de 58 años que acude a urgencias por dolor torácico y disnea. Antecedentes de hipertensión "
    "arterial y diabetes mellitus tipo 2. Refiere molestias inespecíficas desde hace un mes.\n"
    "Juicio clínico: neumonía adquirida en la comunidad.\n"
)
# cp1252 with Windows line endings: Qt shows CRLF as one break, so offsets must be mapped.
CONSULTA = (
    "Consulta de urología.\r\nVarón de 66 años, fumador, con hematuria y dolor lumbar.\r\n"
    "Ecografía: litiasis renal izquierda. Niño con señales de insuficiencia renal aguda.\r\n"
)
_KEYS = {"A": Qt.Key.Key_A, "R": Qt.Key.Key_R, "J": Qt.Key.Key_J, "K": Qt.Key.Key_K,
         "Z": Qt.Key.Key_Z, "F1": Qt.Key.Key_F1}
LLM_TEXT = "Paciente fumador de 60 años con inestabilidad de la marcha e hipertensión arterial.\n"


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    """A window on an empty session in the test's own data folder, dictionary only."""
    created = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(created)
    yield created
    if created.coding.is_running():
        with qtbot.waitSignal(created.coding.running_changed, timeout=60_000):
            created.coding.cancel()


@pytest.fixture
def documents(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "documents"
    folder.mkdir()
    paths = {
        "urgencias": folder / "urgencias.txt",
        "consulta": folder / "consulta.txt",
        "pdf": folder / "escaneado.pdf",
        "docx": folder / "informe.docx",
    }
    paths["urgencias"].write_text(URGENCIAS, encoding="utf-8")
    paths["consulta"].write_bytes(CONSULTA.encode("cp1252"))
    paths["pdf"].write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    paths["docx"].write_bytes(b"PK\x03\x04 not a real docx archive")
    return paths


def run_to_end(qtbot: QtBot, window: MainWindow, start: Callable[[], None], timeout_s: float = 120) -> None:
    with qtbot.waitSignal(window.coding.running_changed, timeout=int(timeout_s * 1000),
                          check_params_cb=lambda running: not running):
        start()


def expected_highlights(result: DocumentResult) -> dict[int, list[tuple[int, int]]]:
    return {i: [(s.start, s.end) for s in a.mention.spans] for i, a in enumerate(result.assignments)}


def picker(qtbot: QtBot, window: MainWindow) -> CodePickerDialog:
    dialog = window.dialog
    assert isinstance(dialog, CodePickerDialog)
    qtbot.waitUntil(dialog.is_ready, timeout=60_000)
    return dialog


def choose(dialog: CodePickerDialog, query: str, code: str) -> None:
    """Type ``query`` and pick ``code`` among the results, as a coder would."""
    dialog.query.setText(query)
    rows = [dialog.results.item(i).text() for i in range(dialog.results.count())]
    row = next(i for i, text in enumerate(rows) if text.split()[0] == code)
    dialog.results.setCurrentRow(row)
    assert dialog.chosen_code() == code
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def select_text(window: MainWindow, start: int, end: int) -> None:
    text = window.current_document().result.document.text  # type: ignore[union-attr]
    positions = PositionMap(text)
    cursor = window.pane.text.textCursor()
    cursor.setPosition(positions.to_qt(start))
    cursor.setPosition(positions.to_qt(end), QTextCursor.MoveMode.KeepAnchor)
    window.pane.text.setTextCursor(cursor)


def answer(monkeypatch: pytest.MonkeyPatch, yes: bool) -> list[str]:
    """Replace the window's yes/no question; returns the questions asked."""
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_open_code_review_and_export(
    qtbot: QtBot, window: MainWindow, documents: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, messages: list[str],
) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda *args, **kwargs: ([str(p) for p in documents.values()], ""))
    window.actions_by_menu[0][1][0].trigger()  # File → Open documents…
    assert [d.state for d in window.session] == [DocumentState.NEW] * 4

    run_to_end(qtbot, window, window.code_new_action.trigger)
    states = {Path(d.key).name: d.state for d in window.session}
    assert states == {"urgencias.txt": DocumentState.CODED, "consulta.txt": DocumentState.CODED,
                      "escaneado.pdf": DocumentState.ERROR, "informe.docx": DocumentState.ERROR}
    broken = window.session.get(str(documents["pdf"].resolve()))
    assert "ICD-E101" in (broken.error or "")
    row = [Path(d.key).name for d in window.session].index("escaneado.pdf")
    assert window.documents.item(row, 2).text() == "error"
    assert window.documents.item(row, 2).toolTip() == broken.error
    assert window.documents.item(row, 0).toolTip() == broken.source  # the full path; the name is elided

    # Every coded document: one table row per mention, highlights exactly on the spans.
    for key in ("urgencias", "consulta"):
        document = window.session.get(str(documents[key].resolve()))
        window.documents.select_key(document.key)
        result = document.result
        assert result is not None and result.assignments
        assert window.pane.text.highlights() == expected_highlights(result)
        assert window.pane.mentions.model().rowCount() == len(result.assignments)
    consulta = window.session.get(str(documents["consulta"].resolve()))
    assert "señales" in consulta.result.document.text and "\r\n" in consulta.result.document.text
    for selection in window.pane.text.extraSelections():  # the CRLF document: Qt's positions were mapped
        start = PositionMap(consulta.result.document.text).to_text(selection.cursor.selectionStart())
        assert consulta.result.document.text[start:].startswith(selection.cursor.selectedText())

    # Change a code with the picker.
    urgencias = window.session.get(str(documents["urgencias"].resolve()))
    window.documents.select_key(urgencias.key)
    index = next(i for i, a in enumerate(urgencias.result.assignments) if a.mention.text == "neumonía")
    window.select_mention(index)
    window.review.mention_actions[2].trigger()  # Change code…
    choose(picker(qtbot, window), "neumonía strepto", "J13")
    changed = urgencias.result.assignments[index]
    assert (changed.code, changed.stage, changed.status) == ("J13", Stage.USER, ReviewStatus.CORRECTED)
    assert changed.provenance["proposed"]["code"] == "J18.9"

    # Add the mention the dictionary missed, by selecting its words.
    start = URGENCIAS.index("molestias inespecíficas")
    select_text(window, start - 1, start + len("molestias inespecíficas") + 1)  # sloppy: a space each side
    window.review.document_actions[2].trigger()  # Add mention from selection…
    dialog = picker(qtbot, window)
    assert dialog.query.text() == "molestias inespecíficas"
    choose(dialog, "R68.89", "R68.89")
    added = urgencias.result.assignments[window.current_index]  # type: ignore[index]
    assert (added.mention.start, added.mention.end, added.code) == (start, start + 23, "R68.89")
    assert (added.stage, added.status) == (Stage.USER, ReviewStatus.ACCEPTED)
    assert window.pane.text.highlights() == expected_highlights(urgencias.result)

    # Undo the addition and redo it.
    count = len(urgencias.result.assignments)
    window.undo_stack.undo()
    assert len(urgencias.result.assignments) == count - 1
    window.undo_stack.redo()
    assert len(urgencias.result.assignments) == count

    # Export all documents as CSV.
    target = tmp_path / "export" / "coded.csv"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    window.export()
    export = window.dialog
    assert isinstance(export, ExportDialog)
    export.all.setChecked(True)
    export.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: any(m.startswith("icdlinker\nExported") for m in messages), timeout=10_000)
    with target.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    coded = [d.result for d in window.session if d.result]
    assert len(rows) == sum(len(r.assignments) for r in coded)
    assert {Path(r["path"]).stem for r in rows} == {"urgencias", "consulta"}
    assert {r["document"].partition("~")[0] for r in rows} == {"urgencias", "consulta"}  # name~path hash
    assert {r["language"] for r in rows} == {r.document.language for r in coded} == {"es"}  # as detected
    provenance = [json.loads(r["provenance"]) for r in rows]
    assert all(p["stage"] for p in provenance)  # the audit rows name the coder of every decision made
    assert {p["coder"] for p in provenance if "decisions" in p} == {window.settings.coder}
    by_spans = {(Path(r["path"]).stem, r["spans"]): r for r in rows}
    assert by_spans[("urgencias", f"{start} {start + 23}")]["code"] == "R68.89"
    assert by_spans[("urgencias", changed.mention.span_text)]["status"] == "corrected"


def test_discontinuous_and_nested_mentions_are_highlighted_and_grouped(
    qtbot: QtBot, window: MainWindow
) -> None:
    text = "Dolor abdominal intenso y agudo. Infecciones urinarias de repetición."
    catalog = Catalog.bundled(Edition.CM)

    def assignment(spans: list[tuple[int, int]], code: str) -> Assignment:
        return Assignment(Mention.from_spans(text, spans), code, Edition.CM, catalog.title(code, "es"),
                          Stage.DICTIONARY, 1.0)

    outer = text.index("Infecciones urinarias de repetición")
    result = DocumentResult(Document("hecho-a-mano", text, "es"), (
        assignment([(0, 15), (26, 31)], "R10.0"),  # "Dolor abdominal … agudo"
        assignment([(outer, outer + 21)], "N39.0"),  # nested in the next one
        assignment([(outer, outer + 35)], "N39.0"),
    ))
    show_result(window, result)
    assert window.pane.text.highlights() == {
        0: [(0, 15), (26, 31)], 1: [(outer, outer + 21)], 2: [(outer, outer + 35)]
    }
    rows = window.pane.mentions.model()
    assert [rows.index(row, 0).data() for row in range(3)] == [
        "Dolor abdominal agudo", "Infecciones urinarias de repetición", "    └ Infecciones urinarias"]
    assert window.pane.mentions.outer_of(1) == 2 and window.pane.mentions.outer_of(2) is None

    # Clicking a highlight makes it the current mention; the innermost one wins where they overlap.
    with qtbot.waitExposed(window):
        window.show()
    for offset, expected in ((28, 0), (outer + 3, 1), (outer + 30, 2)):
        cursor = QTextCursor(window.pane.text.document())
        cursor.setPosition(offset)
        point = window.pane.text.cursorRect(cursor).center() + QPoint(4, 0)
        QTest.mouseClick(window.pane.text.viewport(), Qt.MouseButton.LeftButton, pos=point)
        assert window.current_index == expected
        assert window.pane.mentions.current_index() == expected

    window.pane.mentions.set_grouped(False)
    assert [rows.index(row, 0).data() for row in range(3)] == [
        "Dolor abdominal agudo", "Infecciones urinarias", "Infecciones urinarias de repetición"]
    assert window.pane.mentions.outer_of(1) is None and window.pane.mentions.current_index() == 2


def show_result(window: MainWindow, result: DocumentResult) -> None:
    """Put a hand-made result in the session and show it."""
    document = SessionDocument(result.document.id, None)
    window.session.documents.append(document)
    window.session.set_result(document.key, result)
    window.documents.set_documents(window.session.documents)
    window.documents.select_key(document.key)


def test_keyboard_review_and_reviewed_only_when_every_mention_has_a_status(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.open_paths([SAMPLE])
    run_to_end(qtbot, window, window.code_new)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    window.pane.mentions.setFocus()
    document = window.session.documents[0]
    count = len(document.result.assignments)
    assert window.current_index == 0

    def key(name: str, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        QTest.keyClick(window.focusWidget(), _KEYS[name], modifier)

    key("A")
    assert document.result.assignments[0].status is ReviewStatus.ACCEPTED
    assert window.current_index == 1  # review moves on by itself
    key("R")
    assert document.result.assignments[1].status is ReviewStatus.REJECTED
    key("K")
    key("K")
    assert window.current_index == 0
    key("J")
    key("J")
    assert window.current_index == 2
    key("Z", Qt.KeyboardModifier.ControlModifier)  # undo the rejection
    assert document.result.assignments[1].status is ReviewStatus.PENDING
    key("Z", Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # redo it, as the help says
    assert document.result.assignments[1].status is ReviewStatus.REJECTED
    key("Z", Qt.KeyboardModifier.ControlModifier)
    assert document.result.assignments[1].status is ReviewStatus.PENDING
    assert window.current_index == 1
    for _ in range(count - 2):
        key("A")
        assert document.state is DocumentState.CODED  # one mention is still open
    assert window.current_index == count - 1
    key("A")
    assert document.state is DocumentState.REVIEWED
    assert window.documents.item(0, 2).text() == "reviewed"
    assert window.documents.item(0, 4).text() == "0"

    key("F1")
    assert isinstance(window.dialog, HelpDialog)
    page = window.dialog.browser.toPlainText()
    assert "Accept" in page and "Reject" in page and "Next mention" in page


def test_recoding_a_reviewed_document_asks_first(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.open_paths([SAMPLE])
    run_to_end(qtbot, window, window.code_new)
    window.review.accept()
    document = window.session.documents[0]
    reviewed = document.result
    asked = answer(monkeypatch, yes=False)
    window.code_selected()
    assert len(asked) == 1 and "review decisions" in asked[0]
    assert not window.coding.is_running() and document.result is reviewed

    # A language override asks to code again, and the new language sticks.
    asked = answer(monkeypatch, yes=True)
    english = window.pane.language.findData("en")
    window.pane.language.setCurrentIndex(english)
    run_to_end(qtbot, window, lambda: window.pane.language.activated.emit(english))
    assert len(asked) == 1 and "in English" in asked[0] and "review decisions" in asked[0]
    assert document.language_fixed and document.result.document.language == "en"
    assert window.pane.language.currentData() == "en"


def test_cancel_keeps_finished_documents_and_leaves_none_coding(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    paths = copies(tmp_path, 6)
    window.open_paths(paths)
    run_to_end(qtbot, window, lambda: (window.code_new(), window.coding.cancel()))
    states = [d.state for d in window.session]
    assert DocumentState.CODING not in states
    assert set(states) <= {DocumentState.NEW, DocumentState.CODED}
    assert all((d.result is not None) == (d.state is DocumentState.CODED) for d in window.session)
    assert not window.coding.bar.isVisible() and window.code_new_action.isEnabled()


def test_closing_mid_run_puts_documents_back_and_saves(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.open_paths(copies(tmp_path, 3))
    window.code_new()
    window.close()
    assert all(d.state is DocumentState.NEW for d in window.session)
    saved = saved_session()
    assert len(saved) == 3 and all(d.result is None and not d.coding for d in saved)
    qtbot.waitUntil(lambda: not window.coding.is_running(), timeout=60_000)


def saved_session() -> ReviewSession:
    """What the session database in the test's data folder holds now."""
    opened = open_session()
    opened.database.close()
    return opened.session


def saved_statuses() -> str:
    """The review statuses on disk, as one text (a test waits for one to appear)."""
    if not default_session_path().exists():
        return ""
    with sqlite3.connect(default_session_path()) as connection:
        return " ".join(a or "" for (a,) in connection.execute("SELECT assignments FROM documents"))


def copies(folder: Path, count: int) -> list[Path]:
    """Real clinical documents: the CodiEsp dev texts where they exist (not on CI), else the samples."""
    if CODIESP_DEV.is_dir():
        return sorted(CODIESP_DEV.glob("*.txt"))[:count]
    samples = sorted((resources_dir() / "samples").glob("*/*.txt"))
    target = folder / "copies"
    target.mkdir(exist_ok=True)
    paths = []
    for n in range(count):
        sample = samples[n % len(samples)]
        path = target / f"{n:02d}-{sample.name}"
        path.write_text(f"Documento {n}.\n\n{sample.read_text(encoding='utf-8')}", encoding="utf-8")
        paths.append(path)
    return paths


def test_the_ui_thread_never_stalls_during_a_coding_run(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """A 10 ms heartbeat on the UI thread while 20 documents are coded: no gap over 100 ms.

    The first run of a window loads the dictionary and catalog and builds the fuzzy index on
    the worker; the GIL must still come back to the UI thread often.
    """
    window.open_paths(copies(tmp_path, 20))
    with qtbot.waitExposed(window):
        window.show()
    qtbot.wait(200)  # the first paint (fonts are loaded once per process) is not part of the run
    heartbeat = Heartbeat(window)
    run_to_end(qtbot, window, window.code_new)
    _, longest = heartbeat.report("20 documents coded")
    assert all(d.state is DocumentState.CODED for d in window.session)
    assert longest <= GAP_S


def test_work_survives_a_killed_process(qtbot: QtBot, tmp_path: Path) -> None:
    """A process that reviewed something and was then killed (no close, no save on exit) loses nothing."""
    script = tmp_path / "review_then_wait.py"
    script.write_text(f"""
import sqlite3, sys, time
from gui.app import application, open_window, wait_for_coding
from engine.records.session import default_session_path
app = application()
window = open_window()
window.open_paths([__import__("pathlib").Path({str(SAMPLE)!r})])
window.code_new()
wait_for_coding(window)
window.review.accept()
window.review.reject()
connection = sqlite3.connect(default_session_path())
while '"rejected"' not in " ".join(a for (a,) in connection.execute("SELECT assignments FROM documents") if a):
    app.processEvents()
    time.sleep(0.01)
print("saved", flush=True)
while True:
    app.processEvents()
    time.sleep(0.01)
""", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script)], cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "saved"
    finally:
        process.kill()
        process.wait(30)

    restored = open_window()
    qtbot.addWidget(restored)
    document = restored.session.documents[0]
    statuses = [a.status for a in document.result.assignments]  # type: ignore[union-attr]
    assert statuses[:2] == [ReviewStatus.ACCEPTED, ReviewStatus.REJECTED]
    assert restored.documents.item(0, 2).text() == "coded"
    assert restored.pane.text.highlights() == expected_highlights(document.result)  # type: ignore[arg-type]


def test_autosave_then_destroyed_without_close_and_restored(qtbot: QtBot) -> None:
    window = MainWindow(ReviewSession(), AppSettings())  # not given to qtbot, which would close it
    window.open_paths([SAMPLE])
    run_to_end(qtbot, window, window.code_new)
    window.review.accept()
    qtbot.waitUntil(lambda: '"accepted"' in saved_statuses(), timeout=10_000)
    window.deleteLater()  # gone without a closeEvent
    qtbot.wait(50)
    restored = open_window()
    qtbot.addWidget(restored)
    assert restored.session.documents[0].result.assignments[0].status is ReviewStatus.ACCEPTED  # type: ignore[union-attr]


def test_a_file_name_that_is_not_utf8_is_coded_saved_and_restored(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, messages: list[str]
) -> None:
    """A Latin-1 byte in a file name: coded, shown, saved (it used to stop every autosave) and reopened."""
    folder = tmp_path / "docs"
    folder.mkdir()
    path = Path(os.fsdecode(os.fsencode(folder) + b"/urgencias-espa\xf1a.txt"))
    path.write_text(URGENCIAS, encoding="utf-8")
    broken = Path(os.fsdecode(os.fsencode(folder) + b"/escaneado-\xf1.pdf"))
    broken.write_bytes(b"%PDF-1.4 not really")
    window.open_paths([folder])
    run_to_end(qtbot, window, window.code_new)
    window.documents.select_key(str(path))
    window.review.accept()
    window.save_session()
    assert not messages
    failed, restored = saved_session().documents
    assert restored.key == str(path) and restored.result == window.session.get(str(path)).result
    assert Path(restored.source).read_text(encoding="utf-8") == URGENCIAS  # type: ignore[arg-type]
    assert failed.key == str(broken) and "ICD-E101" in (failed.error or "")
    assert "escaneado-\\udcf1.pdf" in (failed.error or "")  # the message quoted the name: saved escaped


def test_a_crash_saves_the_decision_just_made(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, user_dirs: Path
) -> None:
    """The crash handler's ``save_work`` hands over and waits: the accept made just before the crash
    is on disk before the coder is told, even though the event loop never ran in between."""
    for module, name in ((sys, "excepthook"), (threading, "excepthook"), (errors, "_crash")):
        monkeypatch.setattr(module, name, getattr(module, name))  # the handler installed here ends with the test
    window.open_paths([SAMPLE])
    run_to_end(qtbot, window, window.code_new)
    errors.install_crash_handler(window.save_session, user_dirs / "crash")
    try:
        window.review.accept()
        assert '"accepted"' not in saved_statuses()  # handed over at the next turn of the event loop
        try:
            raise ZeroDivisionError("a bug in a slot")
        except ZeroDivisionError as error:
            sys.excepthook(type(error), error, error.__traceback__)
        assert '"accepted"' in saved_statuses()
    finally:
        errors._crash.close()  # type: ignore[union-attr]
        faulthandler.enable(2)


@pytest.mark.parametrize("name", ["session.json", "session.sqlite3"])
def test_a_damaged_session_is_reported_kept_aside_and_replaced(
    qtbot: QtBot, messages: list[str], name: str
) -> None:
    """An old session file or the database: either is set aside, the coder told, the window starts."""
    path = default_session_path().with_name(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"{not json \xff" + b"[" * 100_000)
    restored = open_window()
    qtbot.addWidget(restored)
    assert len(restored.session) == 0
    assert any("could not be restored" in m and "ICD-E402" in m for m in messages)
    assert list(path.parent.glob(f"{name}.damaged-*"))
    restored.open_paths([SAMPLE])
    restored.save_session()
    assert [d.name for d in saved_session()] == [SAMPLE.name]


def test_dropping_files_and_folders_opens_them(window: MainWindow, documents: dict[str, Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(documents["urgencias"].parent))])
    event = QDropEvent(window.rect().center().toPointF(), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert sorted(Path(d.key).name for d in window.session) == [
        "consulta.txt", "escaneado.pdf", "informe.docx", "urgencias.txt"]


def test_gemma_links_what_the_dictionary_cannot(
    qtbot: QtBot, window: MainWindow, gemma_gguf: Path, tmp_path: Path
) -> None:
    """The 270M base model chooses poorly; what matters is the structure: every open mention is
    answered by the model (or falls back to a fuzzy candidate), with provenance, and results fill in
    while the model answers."""
    window.apply_settings(window.settings.with_changes(model=str(gemma_gguf), threads=1, context_size=2048,
                                                       llm_skip_margin=1.01))  # every open mention asked
    path = tmp_path / "fumador.txt"
    path.write_text(LLM_TEXT, encoding="utf-8")
    window.open_paths([path])
    updates: list[int] = []
    window.coding.document_changed.connect(lambda key: updates.append(
        sum("llm_answer" in a.provenance for a in window.session.get(key).result.assignments)
        if window.session.get(key).result else -1))
    shown: list[str] = []  # the status line, as the coder sees it every 10 ms
    watch = QTimer(window)
    watch.timeout.connect(lambda: shown.append(window.coding.message.text()))
    watch.start(10)
    run_to_end(qtbot, window, window.code_new, timeout_s=300)
    watch.stop()
    assert any("loading model" in line and line.split("·")[0].rstrip().endswith("%") for line in shown), shown
    assert any("model reading the document" in line for line in shown), sorted(set(shown))
    document = window.session.documents[0]
    assert document.state is DocumentState.CODED, document.error
    catalog = Catalog.bundled(Edition.CM)
    asked = [a for a in document.result.assignments if "llm_answer" in a.provenance]
    assert asked, [(a.mention.text, a.stage) for a in document.result.assignments]
    for assignment in asked:
        assert assignment.stage in (Stage.LLM, Stage.FUZZY)
        assert assignment.status is ReviewStatus.NEEDS_REVIEW
        assert catalog.is_valid(assignment.code)
        assert assignment.provenance["model"] and assignment.provenance["candidates_shown"]
        if assignment.stage is Stage.LLM:
            assert assignment.code in assignment.provenance["candidates_shown"]
    filled = [n for n in updates if n >= 0]  # -1: the run started, no result yet
    assert filled[0] == 0 and filled[-1] == len(asked), updates  # dictionary results first, then the model's
    assert filled == sorted(filled) and len(set(filled)) > 1
    index = document.result.assignments.index(asked[0])
    window.select_mention(index)
    assert "answered" in window.pane.details.toPlainText()
    assert window.pane.text.highlights() == expected_highlights(document.result)


def test_gemma_run_can_be_cancelled_mid_run_and_the_document_keeps_its_dictionary_results(
    qtbot: QtBot, window: MainWindow, gemma_gguf: Path, tmp_path: Path
) -> None:
    """Cancelled while the model answers for the second document: it keeps the dictionary's results
    (and any answers that arrived), is coded, and says the model did not finish; the third is untouched."""
    window.apply_settings(window.settings.with_changes(model=str(gemma_gguf), threads=1, context_size=2048,
                                                       llm_skip_margin=1.01))  # every open mention asked
    paths = []
    for n in range(3):
        paths.append(tmp_path / f"{n}-fumador.txt")
        paths[-1].write_text(f"Documento {n}. {LLM_TEXT}", encoding="utf-8")
    window.open_paths(paths)
    documents = window.session.documents

    def cancel_once_the_dictionary_has_answered(key: str) -> None:
        if key == documents[1].key and documents[1].coding and documents[1].result is not None:
            window.coding.cancel()

    window.coding.document_changed.connect(cancel_once_the_dictionary_has_answered)
    run_to_end(qtbot, window, window.code_new, timeout_s=300)
    assert documents[0].state is DocumentState.CODED and documents[0].unfinished is None
    assert documents[1].state is DocumentState.CODED and documents[1].result is not None
    assert documents[1].result.assignments and "did not finish" in (documents[1].unfinished or "")
    assert [d.state for d in documents[2:]] == [DocumentState.NEW] and documents[2].result is None
    window.documents.select_key(documents[1].key)
    window.select_mention(None)
    assert "the model did not finish" in window.pane.title.text()
    assert "did not finish" in window.pane.details.toPlainText()
    window.save_session()
    assert saved_session().get(documents[1].key).unfinished == documents[1].unfinished


def test_self_check_builds_codes_and_renders_the_window() -> None:
    lines = self_check()
    assert any("mentions highlighted" in line for line in lines)
    assert any("rendered" in line for line in lines)


def test_run_restores_installs_the_crash_handler_and_saves_on_close(tmp_path: Path, user_dirs: Path) -> None:
    """``icdlinker`` with no arguments, in its own process: ``exec`` inside pytest upsets later tests."""
    script = tmp_path / "open_then_close.py"
    script.write_text(f"""
import sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from gui.app import application, run
from gui.main_window import MainWindow

def close() -> None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow):
            widget.open_paths([Path({str(SAMPLE)!r})])
            widget.close()  # the last window: the app quits

application()
QTimer.singleShot(500, close)
sys.exit(run([]))
""", encoding="utf-8")
    earlier = open_session()
    earlier.session.add_paths([SAMPLE.with_name("consulta-urologia.txt")])
    earlier.database.submit(earlier.session.take_changes())
    earlier.database.close()
    done = subprocess.run(
        [sys.executable, str(script)], check=False, cwd=Path(__file__).resolve().parents[1], timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    names = [d.name for d in saved_session()]
    assert names == ["consulta-urologia.txt", SAMPLE.name]  # restored, then saved on close
    assert (user_dirs / "log" / "faulthandler.log").exists()  # the crash handler was installed


def test_a_failed_export_is_shown_and_loses_nothing_and_json_keeps_the_session(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, messages: list[str]
) -> None:
    window.open_paths([SAMPLE])
    run_to_end(qtbot, window, window.code_new)
    window.review.accept()
    result = window.session.documents[0].result
    targets = iter([tmp_path / "no-such-folder" / "coded.csv", tmp_path / "session-export.json"])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(next(targets)), ""))

    window.export()
    window.dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: any(m.startswith("Export failed") for m in messages), timeout=10_000)
    assert "ICD-E403" in messages[-1] and window.session.documents[0].result is result

    window.export()
    export = window.dialog
    assert isinstance(export, ExportDialog)
    export.json.setChecked(True)
    export.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: any("Exported the session" in m for m in messages), timeout=10_000)
    exported = json.loads((tmp_path / "session-export.json").read_text(encoding="utf-8"))
    assert ReviewSession.from_dict(exported).documents[0].result == result


def test_settings_and_the_chosen_model_reach_the_coder_after_a_run(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.edit_settings()
    settings = window.dialog
    assert isinstance(settings, SettingsDialog)
    settings.editors["nested_mentions"].set(False)  # on by default
    settings.accept()
    assert not window.settings.nested_mentions and not window.coding.coder.settings.nested_mentions
    assert not AppSettings.load().nested_mentions  # saved in the test's own config folder

    window.open_paths(copies(tmp_path, 2))
    window.code_new()
    window.manage_models()
    models = window.dialog
    assert isinstance(models, ModelManagerDialog)
    assert window.coding.is_running()  # building the fuzzy index takes about a second
    models.model_selected.emit("some-model")  # the Coder is busy: it gets the new model after the run
    assert window.settings.model == "some-model" and window.coding.coder.settings.model == ""
    qtbot.waitUntil(lambda: not window.coding.is_running(), timeout=120_000)
    assert window.coding.coder.settings.model == "some-model"


def test_removing_a_coded_document_asks_first(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.open_paths([SAMPLE])
    run_to_end(qtbot, window, window.code_new)
    asked = answer(monkeypatch, yes=False)
    window.remove_action.trigger()
    assert len(window.session) == 1 and len(asked) == 1
    answer(monkeypatch, yes=True)
    window.remove_action.trigger()
    assert len(window.session) == 0 and window.documents.rowCount() == 0
    assert window.pane.text.toPlainText() == "" and window.pane.mentions.model().rowCount() == 0
