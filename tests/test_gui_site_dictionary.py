"""The site dictionary in the window: review teaches it, a reopened window codes with it, undo
un-teaches, the dialog searches, corrects, deletes, exports and imports; real widgets offscreen,
the real engine and real SQLite session databases."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from engine.core.codes import Edition
from engine.core.model import ReviewStatus, Stage
from engine.records.session import ReviewSession, SessionChanges, default_session_path
from engine.records.settings import AppSettings
from engine.records.site_store import insert_lessons, load_site
from engine.terms.site_dictionary import Lesson, SiteDictionary, Verdict
from gui.app import open_window
from gui.main_window import MainWindow
from gui.presentation import STAGE_COLORS, STAGE_LABELS, legend_html
from gui.site_dictionary_dialog import SiteDictionaryDialog
from tests.heartbeat import ASSERTED_GAP_S, Heartbeat
from tests.test_gui_window import URGENCIAS, answer, choose, picker, run_to_end, select_text

pytestmark = pytest.mark.usefixtures("messages")

# A later letter: the taught terms in other forms (plural, word order, case) beside new ones.
LATER = ("Mujer de 71 años. Hoy refiere inespecíficas molestias y dolor torácico al toser. Hipertensión "
         "arterial en tratamiento.\nDiagnóstico: Neumonías.\n")
AT = "2026-11-30T09:00:00.000+00:00"


@pytest.fixture
def letters(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "letters"
    folder.mkdir()
    paths = {"urgencias": folder / "urgencias.txt", "later": folder / "later.txt"}
    paths["urgencias"].write_text(URGENCIAS, encoding="utf-8")
    paths["later"].write_text(LATER, encoding="utf-8")
    return paths


@pytest.fixture
def opened(qtbot: QtBot) -> Iterator[list[MainWindow]]:
    """Windows a test opens; each is closed (saving its session) at the end."""
    windows: list[MainWindow] = []
    yield windows
    for window in windows:
        window.close()
        window.database.close()


def spanish(window: MainWindow) -> SiteDictionary:
    return window.database.site.get("es", Edition.CM)


def code_one(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    window.open_paths([path])
    run_to_end(qtbot, window, window.code_new)


def at_mention(window: MainWindow, words: str) -> int:
    result = window.current_document().result  # type: ignore[union-attr]
    index = next(i for i, a in enumerate(result.assignments) if a.mention.text.lower() == words)
    window.select_mention(index)
    return index


def teach(qtbot: QtBot, window: MainWindow, letter: Path) -> None:
    """Review a letter the four ways a coder decides: change a code, add a missed mention, reject, accept."""
    code_one(qtbot, window, letter)
    at_mention(window, "neumonía")
    window.review.mention_actions[2].trigger()  # Change code…
    choose(picker(qtbot, window), "neumonía strepto", "J13")
    start = URGENCIAS.index("molestias inespecíficas")
    select_text(window, start, start + len("molestias inespecíficas"))
    window.review.document_actions[2].trigger()  # Add mention from selection…
    choose(picker(qtbot, window), "R68.89", "R68.89")
    at_mention(window, "dolor torácico")
    window.review.reject()
    at_mention(window, "hipertensión arterial")
    window.review.accept()
    window.autosave.save_now()  # written and taught


def dialog_of(qtbot: QtBot, window: MainWindow) -> SiteDictionaryDialog:
    window.show_site_dictionary()
    dialog = window.dialog
    assert isinstance(dialog, SiteDictionaryDialog)
    qtbot.waitUntil(dialog.is_idle, timeout=30_000)
    return dialog


def lesson_rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM site_lessons").fetchone()[0]


def test_the_site_stage_has_its_own_colour_and_label() -> None:
    assert STAGE_LABELS[Stage.SITE] == "Site"
    assert STAGE_COLORS[Stage.SITE] not in {c for s, c in STAGE_COLORS.items() if s is not Stage.SITE}
    assert "Site" in legend_html()


def test_review_teaches_and_a_reopened_window_settles_the_taught_terms(
    qtbot: QtBot, letters: dict[str, Path], opened: list[MainWindow],
) -> None:
    first = open_window()
    qtbot.addWidget(first)
    teach(qtbot, first, letters["urgencias"])
    first.close()
    first.database.close()

    window = open_window()  # the same database: what was learned is read back from its lessons
    qtbot.addWidget(window)
    opened.append(window)
    site = spanish(window)
    assert site.lookup("neumonías").codes == (("J13", 1),)  # type: ignore[union-attr]
    assert site.decide("Dolor torácico")[1].verdict is Verdict.REJECTED  # type: ignore[index]
    code_one(qtbot, window, letters["later"])
    result = window.current_document().result  # type: ignore[union-attr]
    found = {a.mention.text.lower(): a for a in result.assignments}
    pneumonia = found["neumonías"]
    assert (pneumonia.stage, pneumonia.code) == (Stage.SITE, "J13")
    assert "coded J13 once by this site's coders" in pneumonia.evidence
    added = found["inespecíficas molestias"]  # never in the bundled dictionary: detected as learned
    assert (added.stage, added.code) == (Stage.SITE, "R68.89")
    assert found["hipertensión arterial"].stage is Stage.SITE
    assert "dolor torácico" not in found  # rejected: no longer detected

    window.select_mention(result.assignments.index(pneumonia))  # the details panel explains it
    details = window.pane.details.toPlainText()
    assert "Site" in details.split("Stage:")[1].split("·")[0]
    assert "coded J13 once by this site's coders, last on" in details
    table = window.pane.mentions.model()
    assert "Site" in {table.index(row, 4).data() for row in range(table.rowCount())}

    dialog = dialog_of(qtbot, window)  # where it was learned: the letter, the coder, the code
    assert dialog.select_term(site.lookup("neumonía").key)  # type: ignore[union-attr]
    cells = [dialog.history.item(0, column).text() for column in range(dialog.history.columnCount())]
    assert cells[1:] == ["urgencias.txt", AppSettings().coder, "J13", "+1", "review"]
    dialog.close()

    with qtbot.waitActive(window):  # Shift+A accepts what the site settled too, in one undoable step
        window.show()
        window.activateWindow()
    window.pane.mentions.setFocus()
    letter = window.current_document()
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    # (If that was the letter's last decision, the next document to review opened: read the letter itself.)
    accepted = {a.mention.text.lower(): a for a in letter.result.assignments}  # type: ignore[union-attr]
    assert accepted["neumonías"].status is ReviewStatus.ACCEPTED
    assert accepted["inespecíficas molestias"].status is ReviewStatus.ACCEPTED


def test_undo_takes_the_lesson_back(qtbot: QtBot, letters: dict[str, Path], opened: list[MainWindow]) -> None:
    window = open_window()
    qtbot.addWidget(window)
    opened.append(window)
    code_one(qtbot, window, letters["urgencias"])
    at_mention(window, "disnea")
    window.review.accept()
    at_mention(window, "diabetes mellitus tipo 2")
    window.review.accept()
    window.review.accept()  # and the mention after it: neumonía
    window.autosave.save_now()
    assert spanish(window).lookup("disnea").codes == (("R06.00", 1),)  # type: ignore[union-attr]
    taught = len(spanish(window))

    for _ in range(3):
        window.undo_stack.undo()
    window.autosave.save_now()
    assert spanish(window).lookup("disnea") is None and len(spanish(window)) == taught - 3
    window.undo_stack.redo()  # redo teaches it again
    window.autosave.save_now()
    assert spanish(window).lookup("disnea").codes == (("R06.00", 1),)  # type: ignore[union-attr]
    with sqlite3.connect(default_session_path()) as connection:  # and the database agrees
        assert load_site(connection).get("es", Edition.CM).lookup("disnea") is not None


def test_export_then_import_on_a_second_profile_reproduces_the_terms_once(
    qtbot: QtBot, letters: dict[str, Path], opened: list[MainWindow], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, messages: list[str],
) -> None:
    here = open_window()
    qtbot.addWidget(here)
    opened.append(here)
    teach(qtbot, here, letters["urgencias"])
    shared = tmp_path / "shared" / "site.json"
    shared.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(shared), ""))
    exporting = dialog_of(qtbot, here)
    exporting.export_button.click()
    qtbot.waitUntil(exporting.is_idle, timeout=30_000)
    payload = json.loads(shared.read_text(encoding="utf-8"))
    assert "no document text" in payload["privacy"]
    assert {t["term"] for t in payload["terms"]} >= {"neumonía", "molestias inespecíficas", "dolor torácico"}
    assert URGENCIAS[:40] not in shared.read_text(encoding="utf-8")
    assert f"Exported {len(payload['terms'])} learned terms" in messages[-1]

    other_path = tmp_path / "other-workstation" / "session.sqlite3"
    there = MainWindow(ReviewSession(), AppSettings(), session_path=other_path)
    qtbot.addWidget(there)
    opened.append(there)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(shared), ""))
    asked = answer(monkeypatch, yes=True)
    importing = dialog_of(qtbot, there)
    importing.import_button.click()
    qtbot.waitUntil(lambda: importing.is_idle() and importing.model.rowCount() > 0, timeout=30_000)
    assert f"holds {len(payload['terms'])} terms, {len(payload['terms'])} of them new" in asked[-1]
    assert importing.model.rowCount() == len(payload["terms"])
    assert spanish(there).lookup("neumonía").codes == (("J13", 1),)  # type: ignore[union-attr]
    code_one(qtbot, there, letters["later"])
    result = there.current_document().result  # type: ignore[union-attr]
    pneumonia = next(a for a in result.assignments if a.mention.text.lower() == "neumonías")
    assert (pneumonia.stage, pneumonia.code) == (Stage.SITE, "J13")

    rows = lesson_rows(other_path)
    importing.import_button.click()  # the same file again: refused, counted once
    qtbot.waitUntil(importing.is_idle, timeout=30_000)
    assert "ICD-E404" in messages[-1] and "imported into this workstation before" in messages[-1]
    assert lesson_rows(other_path) == rows
    assert spanish(there).lookup("neumonía").codes == (("J13", 1),)  # type: ignore[union-attr]

    for broken in ('{"format": "icdlinker-site-dictionary-1", "terms": [{"language": "es", "ed',
                   '{"format": "some-other-tool", "terms": []}',
                   json.dumps({**payload, "terms": [{**payload["terms"][0], "codes": {"J13": -4}}]})):
        shared.write_text(broken, encoding="utf-8")
        questions = len(asked)
        importing.import_button.click()
        qtbot.waitUntil(importing.is_idle, timeout=30_000)
        assert "ICD-E404" in messages[-1] and "nothing was changed" in messages[-1]
        assert len(asked) == questions  # refused before anything was offered
        assert lesson_rows(other_path) == rows and len(spanish(there)) == len(payload["terms"])


def test_an_import_that_disagrees_lists_the_conflicts_to_settle(
    qtbot: QtBot, opened: list[MainWindow], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_window()
    qtbot.addWidget(window)
    opened.append(window)
    window.database.submit(SessionChanges(lessons=(Lesson("es", Edition.CM, "ICC", "I50.9", 3, AT, "edit"),)))
    shared = tmp_path / "theirs.json"
    shared.write_text(json.dumps({"format": "icdlinker-site-dictionary-1", "terms": [
        {"language": "es", "edition": "cm", "term": "icc", "codes": {"I11.0": 3}, "rejected": 0, "last": AT},
        {"language": "es", "edition": "cm", "term": "fa", "codes": {"I48.91": 2}, "rejected": 0, "last": AT},
    ]}), encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(shared), ""))
    asked = answer(monkeypatch, yes=True)
    dialog = dialog_of(qtbot, window)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.is_idle() and dialog.shown_verdict() is Verdict.CONFLICT, timeout=30_000)
    assert "Coded differently there (1):\n  “icc”: I50.9 here, I11.0 in the file" in asked[-1]
    assert dialog.model.rowCount() == 1 and dialog.model.row_at(0).codes == "I11.0 ×3, I50.9 ×3"


def test_the_dialog_searches_filters_edits_and_deletes(
    qtbot: QtBot, opened: list[MainWindow], monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = open_window(AppSettings(cm_version="2026"))
    qtbot.addWidget(window)
    opened.append(window)
    window.database.submit(SessionChanges(lessons=(
        Lesson("es", Edition.CM, "fibrilación auricular", "I48.91", 3, AT, "edit"),
        Lesson("es", Edition.CM, "ICC", "I50.9", 2, AT, "edit"),
        Lesson("es", Edition.CM, "ICC", "I11.0", 2, AT, "edit"),
        Lesson("es", Edition.CM, "dolor", None, 2, AT, "edit"),
    )))
    window.database.flush()
    dialog = dialog_of(qtbot, window)
    assert dialog.model.rowCount() == 3 and "1 settled, 1 conflicts, 1 rejected" in dialog.status.text()

    qtbot.keyClicks(dialog.search, "Fibrilacion")  # folded: no accent, any case
    assert [dialog.model.row_at(n).entry.display for n in range(dialog.model.rowCount())] == ["fibrilación auricular"]
    dialog.search.setText("i50")  # a code
    assert dialog.model.rowCount() == 1 and dialog.model.row_at(0).entry.display == "ICC"
    dialog.search.clear()
    dialog.show_verdict(Verdict.CONFLICT)
    assert dialog.model.rowCount() == 1 and dialog.model.row_at(0).decision.verdict is Verdict.CONFLICT
    dialog.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)

    icc = spanish(window).lookup("icc")
    assert icc is not None and dialog.select_term(icc.key)
    assert dialog.history.rowCount() == 2 and dialog.history.item(0, 5).text() == "edit"
    dialog.edit_button.click()  # settle it on one code
    chooser = picker(qtbot, window)
    assert chooser.windowTitle().endswith(" 2026")  # the coder's CM version, as when reviewing
    choose(chooser, "I50.9", "I50.9")
    qtbot.waitUntil(dialog.is_idle, timeout=30_000)
    assert spanish(window).lookup("icc").codes == (("I50.9", 1),)  # type: ignore[union-attr]
    assert dialog.model.rowCount() == 0  # no conflict left
    dialog.show_verdict(None)
    assert dialog.select_term(icc.key)
    assert dialog.current_row().decision.verdict is Verdict.SETTLED  # type: ignore[union-attr]
    assert dialog.history.rowCount() == 5  # its two lessons, both taken back, and the new code
    assert [dialog.history.item(0, column).text() for column in (3, 4, 5)] == ["I50.9", "+1", "edit"]

    asked = answer(monkeypatch, yes=True)
    assert dialog.select_term(spanish(window).lookup("dolor").key)  # type: ignore[union-attr]
    dialog.delete_button.click()
    qtbot.waitUntil(dialog.is_idle, timeout=30_000)
    assert "Forget everything this workstation learned about “dolor”" in asked[-1]
    assert spanish(window).lookup("dolor") is None and dialog.model.rowCount() == 2
    with sqlite3.connect(default_session_path()) as connection:  # on disk too
        saved = load_site(connection).get("es", Edition.CM)
    assert saved.lookup("dolor") is None
    assert saved.lookup("icc").codes == (("I50.9", 1),)  # type: ignore[union-attr]


def test_listing_fifty_thousand_learned_terms_never_stalls_the_window(
    qtbot: QtBot, opened: list[MainWindow],
) -> None:
    """50,000 terms in the session database, read when the window opens, as a coder's would be."""
    open_window().database.close()  # creates the database
    codes = ("I10", "I48.91", "R06.00")
    lessons = [Lesson("es", Edition.CM, f"hallazgo{n} clinico{n % 97}", codes[n % 3], 1 + n % 5, AT)
               for n in range(50_000)]
    lessons += [Lesson("es", Edition.CM, f"hallazgo{n} clinico{n % 97}", "E11.9", 2, AT)  # conflicts
                for n in range(0, 50_000, 10)]
    with sqlite3.connect(default_session_path()) as connection:
        insert_lessons(connection, lessons)
    del lessons  # the test's own objects are not the window's
    window = open_window()
    qtbot.addWidget(window)
    opened.append(window)
    assert len(spanish(window)) == 50_000
    with qtbot.waitExposed(window):
        window.show()
    qtbot.wait(200)
    heartbeat = Heartbeat(window)
    dialog = dialog_of(qtbot, window)
    dialog.show()
    qtbot.wait(50)
    assert dialog.model.rowCount() == 50_000
    for key in "hallazgo4":  # as a coder types: the window runs between two keys
        qtbot.keyClick(dialog.search, key)
        qtbot.wait(20)
    assert 0 < dialog.model.rowCount() < 50_000
    steps = (dialog.search.clear, lambda: dialog.show_verdict(Verdict.CONFLICT),
             lambda: dialog.show_verdict(None), lambda: dialog.table.sortByColumn(4, Qt.SortOrder.DescendingOrder),
             dialog.table.scrollToBottom,
             lambda: dialog.select_term(dialog.model.row_at(dialog.model.rowCount() - 1).entry.key))
    for step in steps:
        step()
        qtbot.wait(20)
    assert dialog.model.rowCount() == 50_000 and dialog.current_row() is not None
    qtbot.wait(100)
    _, longest = heartbeat.report("the site dictionary view on 50,000 terms")
    assert longest <= ASSERTED_GAP_S
