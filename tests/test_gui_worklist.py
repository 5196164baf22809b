"""The window as a worklist (issue 13): real documents, the real pipeline, real widgets offscreen, driven by key.

A 2,751-document session (the CodiEsp background set, coded by the real pipeline) is sorted,
filtered and searched; documents in which nothing was found wait for the coder's
confirmation; review moves on through open mentions and documents by itself; a code is
given to every occurrence of a term in one undoable step; each document shows its own
message; the toolbar, the settings and the progress speak a coder's words.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QFormLayout, QLabel, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from engine.core.model import ReviewStatus, Stage
from engine.records.review import open_count
from engine.records.session import DocumentState, ReviewSession, SessionDocument, default_session_path
from engine.records.settings import AppSettings
from gui.code_picker import CodePickerDialog
from gui.code_table import MENTION_FILTERS
from gui.coding_run import time_left
from gui.document_list import QUEUES
from gui.main_window import MainWindow
from gui.presentation import STATE_COLORS
from gui.settings_dialog import SettingsDialog
from tests.big_session import BACKGROUND, coded_session

pytestmark = pytest.mark.usefixtures("messages")

URGENCIAS = ("Paciente de 58 años con neumonía y diabetes mellitus tipo 2. Se trata la neumonía con "
             "amoxicilina. Hipertensión arterial controlada.\n")
CONTROL = "Varón de 71 años. PSA 22 ng/ml. Hiperplasia nodular. Control en seis meses.\n"
SEGUNDA = "Mujer de 80 años. Ingresa por neumonía. Sin otros hallazgos.\n"


def run_to_end(qtbot: QtBot, window: MainWindow, start: Callable[[], None]) -> None:
    with qtbot.waitSignal(window.coding.running_changed, timeout=180_000,
                          check_params_cb=lambda running: not running):
        start()


def key(widget: QWidget, which: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(widget, which, modifier)


@pytest.fixture
def coded(qtbot: QtBot, tmp_path: Path) -> Callable[[dict[str, str]], MainWindow]:
    """A window with these texts (file name → text) opened and coded by the real pipeline."""
    windows: list[MainWindow] = []

    def make(texts: dict[str, str]) -> MainWindow:
        folder = tmp_path / "documents"
        folder.mkdir(exist_ok=True)
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        window = MainWindow(ReviewSession(), AppSettings())
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        window.open_paths([folder / name for name in texts])
        run_to_end(qtbot, window, window.code_new)
        qtbot.wait(10)
        return window

    return make


# --- the document list at 2,751 documents -------------------------------------------------------


@pytest.fixture(scope="module")
def background() -> ReviewSession:
    if not BACKGROUND.is_dir():
        pytest.skip("the CodiEsp background documents are not here")
    return coded_session()


@pytest.fixture
def big(qtbot: QtBot, background: ReviewSession) -> Iterator[MainWindow]:
    session = ReviewSession([d for d in background.documents])
    window = MainWindow(session, AppSettings())
    qtbot.addWidget(window)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    yield window
    window.database.close()


def click_header(qtbot: QtBot, window: MainWindow, column: int) -> float:
    header = window.documents.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    started = time.perf_counter()
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
    return time.perf_counter() - started


def test_2751_documents_sort_filter_and_search_by_mouse_and_keys(qtbot: QtBot, big: MainWindow) -> None:
    window, listing = big, big.documents
    session = window.session
    assert listing.rowCount() == 2751
    states = [d.state for d in session]
    empty = states.count(DocumentState.NO_MENTIONS)
    assert empty > 0
    print(f"\n{empty} of {len(session)} background documents: no mentions found (not reviewed until confirmed)")
    assert DocumentState.REVIEWED not in states  # nothing is green before the coder did anything

    # Names elided at the end, the full path on hover; five-digit counts fit their columns.
    assert listing.textElideMode() == Qt.TextElideMode.ElideRight
    first = session.documents[0]
    assert listing.item(0, 0).toolTip() == first.source
    digits = listing.fontMetrics().horizontalAdvance("99999")
    assert listing.columnWidth(3) > digits and listing.columnWidth(4) > digits

    # Sort by "Open", the coder's click on the header: most open first on the second click.
    took = [click_header(qtbot, window, 4), click_header(qtbot, window, 4)]
    opens = [int(listing.item(r, 4).text()) for r in range(listing.rowCount())]
    assert opens == sorted((open_count(d.result) for d in session if d.result), reverse=True)
    took.append(click_header(qtbot, window, 0))
    names = [listing.item(r, 0).text() for r in range(listing.rowCount())]
    assert names == sorted((d.name for d in session), key=str.casefold)
    print(f"sorting 2,751 rows by a header click: {max(took) * 1000:.0f} ms at most")

    # Queues by key: the combo takes Down as a coder's choice.
    queue = listing.queue
    queue.setFocus()
    started = time.perf_counter()
    for _ in range(QUEUES.index(next(q for q in QUEUES if q.label == "No mentions found"))):
        key(queue, Qt.Key.Key_Down)
    filtering = time.perf_counter() - started
    assert listing.rowCount() == empty and queue.currentText() == f"No mentions found ({empty:,})"
    assert all(window.session.get(k).state is DocumentState.NO_MENTIONS for k in window.documents.shown_keys())
    print(f"choosing a queue, the list filtered at each step: {filtering * 1000:.0f} ms for "
          f"{queue.currentIndex()} steps")
    assert window.current_document() is not None and window.current_document().state is DocumentState.NO_MENTIONS

    # Back to every document, then the search box: a few letters of a name.
    key(queue, Qt.Key.Key_Home)
    assert listing.rowCount() == 2751
    wanted = session.documents[1234].name[:14]
    QTest.keyClicks(listing.search, wanted)
    expected = sum(wanted.casefold() in f"{d.name}\n{d.source}".casefold() for d in session)
    assert listing.rowCount() == expected >= 1
    assert all(wanted.casefold() in listing.item(r, 0).text().casefold() for r in range(listing.rowCount()))
    listing.search.clear()

    # Errors and a language: none of the background documents fails; all are Spanish.
    listing.set_filter(language="es")
    assert listing.rowCount() == sum(d.language == "es" for d in session)
    listing.set_filter(QUEUES[[q.label for q in QUEUES].index("Errors")], None)
    assert listing.rowCount() == 0

    # A row updated while sorted and filtered moves, and the current document stays current.
    listing.clear_filters()
    listing.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    listing.setFocus()
    key(listing, Qt.Key.Key_Home)
    top = window.current_document()
    assert top is not None and top.result is not None
    window.pane.mentions.setFocus()
    key(window.focusWidget(), Qt.Key.Key_A)  # accept: one open mention fewer
    qtbot.wait(20)
    assert window.documents.current_key() == top.key
    assert int(listing.item(listing.currentIndex().row(), 4).text()) == open_count(top.result)


def test_the_dividers_are_where_the_coder_left_them_after_a_restart(qtbot: QtBot) -> None:
    first = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(first)
    first.show()
    qtbot.wait(10)
    first.splitter.setSizes([500, 300, 640])
    first.pane.right.setSizes([300, 400])
    wanted = first.splitter.sizes(), first.pane.right.sizes()
    first.close()
    again = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(again)
    again.show()
    qtbot.wait(10)
    assert (again.splitter.sizes(), again.pane.right.sizes()) == wanted


# --- no mentions found --------------------------------------------------------------------------


def test_a_document_without_mentions_waits_for_the_coders_confirmation(
    qtbot: QtBot, coded: Callable[[dict[str, str]], MainWindow]
) -> None:
    window = coded({"control.txt": CONTROL, "urgencias.txt": URGENCIAS})
    control = next(d for d in window.session if d.name == "control.txt")
    assert control.result is not None and not control.result.assignments
    assert control.state is DocumentState.NO_MENTIONS
    window.documents.select_key(control.key)
    row = window.documents.currentIndex().row()
    assert window.documents.item(row, 2).text() == "no mentions found"
    assert "No mentions found" in window.pane.details.toPlainText()
    assert window.review.confirm_action.isEnabled()

    key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # confirm: nothing to code
    assert control.state is DocumentState.REVIEWED
    assert window.documents.current_key() != control.key  # the next document to review opened
    window.save_session()
    with sqlite3.connect(default_session_path()) as connection:
        rows = connection.execute("SELECT action, step, mention FROM decisions").fetchall()
        assert connection.execute("SELECT confirmed FROM documents WHERE key = ?",
                                  (control.key.encode(),)).fetchone() == (1,)
    assert rows == [("confirm_no_mentions", "do", "")]

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: back to the document, unconfirmed
    assert window.documents.current_key() == control.key and control.state is DocumentState.NO_MENTIONS
    QTest.keySequence(window, QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)[0])
    assert control.state is DocumentState.REVIEWED


def test_confirming_one_after_another_in_the_to_review_queue_skips_none(
    qtbot: QtBot, coded: Callable[[dict[str, str]], MainWindow]
) -> None:
    """A reviewed document leaves a list filtered to what needs review: the one after it is next."""
    window = coded({f"{n}.txt": CONTROL for n in range(4)})
    listing = window.documents
    listing.set_filter(QUEUES[[q.label for q in QUEUES].index("To review")])
    listing.select_key(window.session.documents[0].key)
    opened = []
    for _ in range(4):
        opened.append(window.current_document().name)  # type: ignore[union-attr]
        key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert opened == ["0.txt", "1.txt", "2.txt", "3.txt"]
    assert listing.rowCount() == 0 and all(d.state is DocumentState.REVIEWED for d in window.session)
    assert window.statusBar().currentMessage() == "No other document in the list needs review."


# --- moving through the work --------------------------------------------------------------------


def test_filters_next_open_mention_and_the_next_document_after_the_last_decision(
    qtbot: QtBot, coded: Callable[[dict[str, str]], MainWindow]
) -> None:
    window = coded({"a.txt": URGENCIAS, "b.txt": SEGUNDA})
    a, b = (next(d for d in window.session if d.name == name) for name in ("a.txt", "b.txt"))
    assert a.result is not None and len(a.result.assignments) >= 3
    window.documents.select_key(a.key)
    table = window.pane.mentions

    # "Open only": an accepted mention leaves the table; J moves through open ones only.
    combo = window.pane.mention_filter
    combo.setFocus()
    key(combo, Qt.Key.Key_Down)
    assert combo.currentText() == "Open only"
    shown = [r for r in range(table.model().rowCount()) if not table.isRowHidden(r)]
    assert len(shown) == open_count(a.result)
    table.setFocus()
    first = window.current_index
    key(table, Qt.Key.Key_A)
    assert a.result.assignments[first].status is ReviewStatus.ACCEPTED  # type: ignore[index]
    assert table.isRowHidden(table.row_of(first))  # type: ignore[arg-type]
    assert window.current_index is not None and a.result.assignments[window.current_index].status \
        is not ReviewStatus.ACCEPTED

    # By stage: the dictionary's only.
    for _ in range(MENTION_FILTERS.index(next(f for f in MENTION_FILTERS if f[0] == "Stage: Dictionary")) - 1):
        key(combo, Qt.Key.Key_Down)
    assert combo.currentText() == "Stage: Dictionary"
    assert all(table.isRowHidden(table.row_of(i)) != (x.stage is Stage.DICTIONARY)
               for i, x in enumerate(a.result.assignments))
    key(combo, Qt.Key.Key_Home)

    # N: the next open mention, then (none left) the next document to review.
    table.setFocus()
    while open_count(a.result) > 1:
        key(table, Qt.Key.Key_N)
        assert a.result.assignments[window.current_index].status not in (  # type: ignore[index]
            ReviewStatus.ACCEPTED, ReviewStatus.REJECTED, ReviewStatus.CORRECTED)
        key(window.focusWidget(), Qt.Key.Key_R)
        if window.current_document() is not a:
            break
    assert window.current_document() is a and open_count(a.result) == 1
    key(window.focusWidget(), Qt.Key.Key_N)
    key(window.focusWidget(), Qt.Key.Key_A)  # the last decision of a.txt
    assert a.state is DocumentState.REVIEWED
    assert window.current_document() is b  # opened by itself
    assert "b.txt opened" in window.statusBar().currentMessage()


def test_ctrl_f_finds_words_in_the_text_and_the_find_is_what_add_mention_takes(
    qtbot: QtBot, coded: Callable[[dict[str, str]], MainWindow]
) -> None:
    window = coded({"a.txt": URGENCIAS})
    key(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = window.pane.find_bar
    assert bar.field.hasFocus()
    QTest.keyClicks(bar.field, "NEUMONÍA")
    key(bar.field, Qt.Key.Key_Return)
    first = URGENCIAS.index("neumonía")
    assert window.pane.text.selected_span() == (first, first + 8) and bar.status.text() == "1 of 2"
    key(window, Qt.Key.Key_F3)
    second = URGENCIAS.index("neumonía", first + 1)
    assert window.pane.text.selected_span() == (second, second + 8) and bar.status.text() == "2 of 2"
    key(window, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert window.pane.text.selected_span() == (first, first + 8)
    key(bar.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # previous: wraps round to the last
    assert window.pane.text.selected_span() == (second, second + 8)
    bar.field.selectAll()
    QTest.keyClicks(bar.field, "amoxicilina")
    key(bar.field, Qt.Key.Key_Return)
    window.review.document_actions[2].trigger()  # Add mention from selection (M)
    dialog = window.dialog
    assert isinstance(dialog, CodePickerDialog) and dialog.query.text() == "amoxicilina"
    QTest.keyClicks(bar.field, "zzz")
    key(bar.field, Qt.Key.Key_Return)
    assert bar.status.text() == "not found"


def codes_of(document: SessionDocument, words: str) -> list[str | None]:
    """The codes of the document's mentions that read ``words``, in text order."""
    assert document.result is not None
    return [x.code for x in document.result.assignments if x.mention.text == words]


def test_a_code_given_to_every_occurrence_in_the_open_documents_is_one_undo_step_and_audited(
    qtbot: QtBot, coded: Callable[[dict[str, str]], MainWindow]
) -> None:
    window = coded({"a.txt": URGENCIAS, "b.txt": SEGUNDA})
    a, b = (next(d for d in window.session if d.name == name) for name in ("a.txt", "b.txt"))
    window.documents.select_key(a.key)
    assert a.result is not None and b.result is not None
    index = next(i for i, x in enumerate(a.result.assignments) if x.mention.text == "neumonía")
    window.select_mention(index)
    window.pane.mentions.setFocus()
    key(window.focusWidget(), Qt.Key.Key_C)  # change code…
    picker = window.dialog
    assert isinstance(picker, CodePickerDialog)
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    picker.query.setText("J15.9")
    row = next(i for i in range(picker.results.count()) if picker.results.item(i).text().split()[0] == "J15.9")
    picker.results.setCurrentRow(row)
    picker.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    qtbot.waitUntil(lambda: isinstance(window.dialog, QMessageBox))  # the open documents are searched meanwhile
    question = window.dialog
    assert isinstance(question, QMessageBox)
    assert question.text() == ("“neumonía” occurs 1 more time(s) in this document and 1 time(s) in 1 other open "
                               "document(s) without J15.9. Give them J15.9 too?")
    everywhere = next(button for button in question.buttons() if button.text() == "…and in the open documents")
    everywhere.click()
    qtbot.waitUntil(lambda: window.undo_stack.count() == 2)  # the change, then "everywhere", recoded off the UI thread
    pneumonias = [*codes_of(a, "neumonía"), *codes_of(b, "neumonía")]
    assert pneumonias == ["J15.9"] * 3
    given = [x for d in (a, b) for x in d.result.assignments if x.code == "J15.9"]  # type: ignore[union-attr]
    assert {x.stage for x in given} == {Stage.USER}
    assert window.current_document() is a  # the other document changed in the list only

    window.save_session()
    with sqlite3.connect(default_session_path()) as connection:
        decided = connection.execute(
            "SELECT document, code_after FROM decisions WHERE mention = 'neumonía' AND step = 'do'").fetchall()
        learned = connection.execute("SELECT sum(weight) FROM site_lessons WHERE code = 'J15.9'").fetchone()[0]
    assert sorted(doc for doc, _ in decided) == sorted([a.key.encode()] * 2 + [b.key.encode()])
    assert learned == 3

    with qtbot.waitActive(window):  # offscreen, nothing makes the window active again once the question closed
        window.activateWindow()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the "everywhere" step, in both documents
    assert codes_of(b, "neumonía") == ["J18.9"] and codes_of(a, "neumonía") == ["J15.9", "J18.9"]


# --- each document's own message ----------------------------------------------------------------


def picture(qtbot: QtBot, window: MainWindow) -> QImage:
    """What the text pane shows on screen, from the window's backing store (``grab()`` would paint
    it afresh and hide a stale screen)."""
    qtbot.wait(50)
    viewport = window.pane.text.viewport()
    corner = viewport.mapTo(window, QPoint(0, 0))
    shot = window.screen().grabWindow(window.winId(), corner.x(), corner.y(), viewport.width(), viewport.height())
    return shot.toImage()


def test_each_document_shows_its_own_message_and_unreadable_files_have_no_language(
    qtbot: QtBot, tmp_path: Path
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    window = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(window)
    window.show()
    qtbot.wait(10)
    nothing_open = picture(qtbot, window)
    window.open_paths([folder])
    assert window.pane.text.placeholderText().startswith("Not coded yet — press F5")
    assert picture(qtbot, window) != nothing_open  # painted, not only set

    run_to_end(qtbot, window, window.code_new)
    window.documents.setFocus()
    key(window.documents, Qt.Key.Key_Home)
    seen: dict[str, QImage] = {}
    for _ in range(3):
        document = window.current_document()
        assert document is not None and document.state is DocumentState.ERROR and document.error
        assert document.language is None and window.pane.language.itemText(0) == "Detect automatically"
        assert document.error in window.pane.text.placeholderText()
        assert window.pane.details.toPlainText() == document.error
        seen[document.name] = picture(qtbot, window)
        key(window.documents, Qt.Key.Key_Down)
    assert sorted(seen) == ["binary.txt", "broken.pdf", "empty.txt"]
    images = list(seen.values())
    assert images[0] != images[1] != images[2] != images[0]  # each its own message on screen


# --- words, colours, time left ------------------------------------------------------------------


def test_toolbar_tooltips_name_the_shortcut_settings_speak_a_coders_words_and_colours(qtbot: QtBot) -> None:
    window = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(window)
    tips = {action.text().replace("&", ""): action.toolTip() for _, actions in window.actions_by_menu
            for action in actions}
    assert tips["Accept"] == "Accept (A)" and tips["Code new documents"] == "Code new documents (F5)"
    assert tips["Find in text…"] == "Find in text (Ctrl+F)"
    dialog = SettingsDialog(window, AppSettings())
    qtbot.addWidget(dialog)
    form = dialog.layout().itemAt(0).layout()
    assert isinstance(form, QFormLayout)
    labels = [form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().text() for row in range(form.rowCount())]
    assert "Excel-compatible CSV" in labels and not any("bom" in label.casefold() for label in labels)
    # Orange and red say "look at this"; "coded" (work not done yet) is neither.
    warm = {QColor(STATE_COLORS[s]).hue() for s in (DocumentState.NO_MENTIONS, DocumentState.ERROR)}
    assert QColor(STATE_COLORS[DocumentState.CODED]).hue() not in warm
    assert 180 <= QColor(STATE_COLORS[DocumentState.CODED]).hue() <= 260


def test_the_batch_progress_says_how_long_is_left(qtbot: QtBot) -> None:
    assert time_left(15.0, 10, 40) == "about 45 s left" and time_left(30.0, 10, 40) == "about 2 min left"
    assert time_left(600.0, 10, 40) == "about 30 min left" and time_left(1.0, 0, 40) == ""
    shown: list[str] = []
    window = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(window)
    label: QLabel = window.coding.message
    original = label.setText

    folder = Path(default_session_path()).parent / "texts"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(5):  # long enough (70 KB each) for the progress to be read between documents
        (folder / f"{n}.txt").write_text(URGENCIAS * 600, encoding="utf-8")
    window.open_paths([folder])
    label.setText = lambda text: (shown.append(text), original(text))  # type: ignore[method-assign]  # what it read
    run_to_end(qtbot, window, window.code_new)
    assert any(text.endswith(" left") for text in shown), shown
