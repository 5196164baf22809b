"""The window's views one by one: text highlights and offsets, tables, document list, code picker."""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QHelpEvent, QKeySequence, QTextFormat
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from engine.core.codes import Edition
from engine.core.model import Assignment, Candidate, Document, DocumentResult, Mention, ReviewStatus, Stage
from engine.records.session import SessionDocument
from engine.records.session_db import open_session
from engine.terms.catalog import Catalog
from engine.terms.code_search import CodeSearch
from gui.autosave import Autosave
from gui.code_picker import CodePickerDialog
from gui.code_table import CodeSummary, MentionTable
from gui.document_list import DocumentList
from gui.help_dialog import help_html
from gui.mention_index import nesting
from gui.presentation import describe
from gui.text_view import MentionTextView, PositionMap

pytestmark = pytest.mark.usefixtures("messages")


def assignment(
    text: str,
    spans: list[tuple[int, int]],
    code: str | None = "R52",
    stage: Stage | None = Stage.DICTIONARY,
    status: ReviewStatus = ReviewStatus.PENDING,
    **changes: object,
) -> Assignment:
    made = Assignment(Mention.from_spans(text, spans), code, Edition.CM, "Dolor", stage, 0.8, status=status)
    return made.with_changes(**changes) if changes else made


def spans_of(assignments: tuple[Assignment, ...]) -> dict[int, list[tuple[int, int]]]:
    return {i: [(s.start, s.end) for s in a.mention.spans] for i, a in enumerate(assignments)}


# --- text view ----------------------------------------------------------------------------


def test_position_map_follows_qt_for_crlf_lone_cr_and_astral_characters() -> None:
    text = "a\r\nb\rc😀d"
    positions = PositionMap(text)
    assert [positions.to_qt(i) for i in range(len(text) + 1)] == [0, 1, 1, 2, 3, 4, 5, 7, 8]
    assert [positions.to_text(q) for q in (0, 1, 2, 3, 4, 5, 7, 8)] == [0, 1, 3, 4, 5, 6, 7, 8]
    assert PositionMap("plain text").to_qt(5) == 5


@given(st.lists(st.sampled_from(["a", "\r", "\n", "\r\n", "😀", "é"]), max_size=40), st.integers(1, 7))
def test_position_map_built_in_slices_counts_as_qt_does(pieces: list[str], cut: int) -> None:
    """Against Qt's own count, one character at a time: CRLF is one unit, astral characters two."""
    text = "".join(pieces)
    widths = [0 if ch == "\r" and text[i + 1 : i + 2] == "\n" else 2 if ord(ch) > 0xFFFF else 1
              for i, ch in enumerate(text)]
    qt = [sum(widths[:i]) for i in range(len(text) + 1)]
    cut = min(cut, len(text))
    if text[cut - 1 : cut + 1] == "\r\n":  # the window never slices between CR and LF
        cut += 1
    sliced = PositionMap(text[:cut])
    sliced.extend(text[cut:])
    for positions in (PositionMap(text), sliced):
        assert [positions.to_qt(i) for i in range(len(text) + 1)] == qt
        units = range(qt[-1] + 1)
        assert [positions.to_text(q) for q in units] == [bisect_left(qt, q) for q in units]


def test_highlights_cover_exactly_the_spans_in_a_crlf_text_with_emoji(qtbot: QtBot) -> None:
    view = MentionTextView()
    qtbot.addWidget(view)
    text = "Dolor 😀 torácico\r\nintenso.\r\nFiebre alta y dolor abdominal agudo."
    start = text.index("dolor abdominal")
    assignments = (
        assignment(text, [(0, 5), (8, 16)]),  # "Dolor … torácico", around the emoji
        assignment(text, [(text.index("Fiebre"), text.index("Fiebre") + 11)], status=ReviewStatus.ACCEPTED),
        assignment(text, [(start, start + 15)], stage=Stage.LLM, status=ReviewStatus.NEEDS_REVIEW),
        assignment(text, [(start, start + 5)], status=ReviewStatus.REJECTED),  # nested in the one before
    )
    view.show_text(text)
    view.set_assignments(assignments, current=2)
    assert view.highlights() == spans_of(assignments)
    selections = view.extraSelections()
    index_of = [s.format.property(QTextFormat.Property.UserProperty) for s in selections]  # the assignment
    for selection, index in zip(selections, index_of, strict=True):
        shown = selection.cursor.selectedText()
        assert any(text[s.start : s.end] == shown for s in assignments[index].mention.spans)
    struck = {index: s.format.fontStrikeOut() for s, index in zip(selections, index_of, strict=True)}
    assert struck[3] and not struck[1]
    assert index_of[-1] == 2  # the current mention is painted last, over everything
    view.set_current(None)
    painted = [s.format.property(QTextFormat.Property.UserProperty) for s in view.extraSelections()]
    assert painted.index(2) < painted.index(3)  # else nested mentions are painted over their outer one


def test_a_long_text_arrives_in_slices_and_a_huge_line_is_broken_for_display(qtbot: QtBot) -> None:
    """Over 1 MB on one line, CRLFs and emoji after it: offsets still map exactly once all is in."""
    line = " ".join(["dolor torácico"] * 80_000)  # one line of 1.2 MB: Qt could not lay it out at once
    text = f"{line}\r\nFiebre 😀 alta.\r\nDolor."
    view = MentionTextView()
    qtbot.addWidget(view)
    view.show_text(text)
    assert view.is_loading()  # the rest comes between events
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=30_000)
    end = text.index("Dolor.")
    assignments = (assignment(text, [(text.index("Fiebre"), text.index("Fiebre") + 6)]),
                   assignment(text, [(end, end + 5)]))
    view.set_assignments(assignments, current=1)  # the current mention is scrolled to, at the end
    assert view.highlights() == spans_of(assignments)
    for selection in view.extraSelections():
        assert selection.cursor.selectedText() in ("Fiebre", "Dolor")
    shown = view.toPlainText()
    assert shown.replace("\n", "") == text.replace("\r\n", "")  # only line breaks of ours were added
    assert shown.count("\n") > 2


@pytest.mark.qt_log_ignore("does not support raise")  # the offscreen platform, showing the tooltip
def test_clicking_and_hovering_find_the_innermost_mention(qtbot: QtBot) -> None:
    view = MentionTextView()
    qtbot.addWidget(view)
    text = "Infecciones urinarias de repetición en la infancia."
    assignments = (assignment(text, [(0, 35)], code="N39.0"), assignment(text, [(0, 21)], code="N39.0"))
    view.resize(600, 200)
    with qtbot.waitExposed(view):
        view.show()
    view.show_text(text)
    view.set_assignments(assignments)
    clicked: list[int] = []
    view.mention_clicked.connect(clicked.append)
    for offset in (3, 28):
        cursor = view.textCursor()
        cursor.setPosition(offset)
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.cursorRect(cursor).center())
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport().rect().bottomRight())
    assert clicked == [1, 0]

    cursor = view.textCursor()
    cursor.setPosition(3)
    point = view.cursorRect(cursor).center()
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point)))
    tip = QToolTip.text()
    assert tip.count("N39.0") == 2 and tip.index("“Infecciones urinarias”") < tip.index("de repetición”")
    QToolTip.hideText()


def test_explanations_show_the_model_answer_candidates_and_negation() -> None:
    text = "Sin signos de neumonía."
    candidate = Candidate("J18.9", Edition.CM, "Neumonía, no especificada", 0.91, "fuzzy:term")
    explained = describe(assignment(
        text, [(14, 22)], code="J18.9", stage=Stage.LLM, status=ReviewStatus.NEEDS_REVIEW,
        candidates=(candidate,),
        provenance={"model": "gemma-3-270m", "llm_answer": "J18.9", "candidates_shown": ["J18.9", "J15.9"],
                    "negated_by": "sin signos de"},
    ))
    for expected in ("J18.9", "LLM", "needs review", "gemma-3-270m", "J15.9", "sin signos de", "0.91"):
        assert expected in explained


# --- tables -------------------------------------------------------------------------------


def test_nesting_groups_inner_mentions_under_the_outer_one() -> None:
    text = "dolor torácico opresivo y disnea"
    assignments = (
        assignment(text, [(0, 5)]),  # "dolor", inside the next one
        assignment(text, [(0, 23)]),
        assignment(text, [(6, 14)]),  # "torácico", inside too
        assignment(text, [(26, 32)]),
        assignment(text, [(26, 32)], code="R06.00"),  # the same words with another code: a sibling
    )
    assert nesting(assignments) == [(1, None), (0, 1), (2, 1), (3, None), (4, None)]


def test_mention_table_rewrites_changed_rows_in_place(qtbot: QtBot) -> None:
    table = MentionTable()
    qtbot.addWidget(table)
    text = "disnea y fiebre"
    before = (assignment(text, [(0, 6)]), assignment(text, [(9, 15)], code=None, stage=None))
    table.show_assignments(before)
    table.select_mention(1)
    model = table.model()
    resets: list[None] = []
    changes: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(None))
    model.dataChanged.connect(lambda first, last: changes.append((first.row(), last.row())))
    answered = before[1].with_changes(code="R50.9", stage=Stage.LLM, status=ReviewStatus.NEEDS_REVIEW)
    after = (before[0], answered)
    table.show_assignments(after)
    assert not resets and changes == [(1, 1)]  # one row rewritten, not the table
    assert table.current_index() == 1  # so the selection is kept
    assert [model.index(1, c).data() for c in (1, 4, 6)] == ["R50.9", "LLM", "needs review"]
    assert table.neighbour(1, 1) == 1 and table.neighbour(1, -1) == 0 and table.neighbour(None, -1) == 1


def test_code_summary_counts_distinct_codes(qtbot: QtBot) -> None:
    summary = CodeSummary()
    qtbot.addWidget(summary)
    text = "neumonía, neumonía y fiebre"
    shown = (
        assignment(text, [(0, 8)], code="J18.9", status=ReviewStatus.ACCEPTED),
        assignment(text, [(10, 18)], code="J18.9"),
        assignment(text, [(21, 27)], code="R50.9", status=ReviewStatus.REJECTED),
    )
    summary.show_assignments(shown)
    assert summary.model().rowCount() == 0  # counted once the table is on screen, not before

    def rows() -> list[list[str]]:
        return [[summary.cell(r, c) for c in range(4)] for r in range(summary.model().rowCount())]

    with qtbot.waitExposed(summary):
        summary.show()
    assert rows() == [["J18.9", "Dolor", "2", "1 accepted, 1 pending"], ["R50.9", "Dolor", "1", "1 rejected"]]
    # Review moves counts mention by mention: a code gains its first mention, another loses its last.
    changed = (shown[0], shown[1].with_changes(code="R50.9", status=ReviewStatus.ACCEPTED),
               shown[2].with_changes(code="J18.9"))
    summary.show_assignments(changed)
    assert rows() == [["J18.9", "Dolor", "2", "1 accepted, 1 rejected"],
                      ["R50.9", "Dolor", "1", "1 accepted"]]
    summary.show_assignments((shown[0], shown[1].with_changes(code="R50.9"), shown[2]))
    assert rows() == [["J18.9", "Dolor", "1", "1 accepted"], ["R50.9", "Dolor", "2", "1 pending, 1 rejected"]]


def test_document_list_shows_states_counts_and_errors(qtbot: QtBot, tmp_path: Path) -> None:
    listing = DocumentList()
    qtbot.addWidget(listing)
    text = "disnea"
    coded = SessionDocument("a", str(tmp_path / "a.txt"), "es",
                            result=DocumentResult(Document("a", text, "es"), (assignment(text, [(0, 6)]),)))
    broken = SessionDocument("b", str(tmp_path / "b.pdf"), error="[ICD-E101] b.pdf: damaged")
    new = SessionDocument("c", str(tmp_path / "c.docx"))
    changes: list[str] = []
    listing.current_changed.connect(changes.append)
    listing.set_documents([coded, broken, new])
    rows = [[listing.item(r, c).text() for c in range(5)] for r in range(3)]
    assert rows == [
        ["a.txt", "es", "coded", "1", "1"], ["b.pdf", "", "error", "", ""], ["c.docx", "", "new", "", ""]
    ]
    assert listing.item(1, 2).toolTip() == "[ICD-E101] b.pdf: damaged"
    assert listing.item(1, 0).toolTip() == broken.source  # the full path: the name is elided at the end
    listing.select_key("b")
    assert listing.current_key() == "b" and changes[-1] == "b" and listing.selected_keys() == ["b"]

    # Added at the end, removed, reordered: the rows follow, the current document stays current.
    added = SessionDocument("d", str(tmp_path / "d.txt"))
    for documents in ([coded, broken, new, added], [broken, added], [added, broken, coded]):
        listing.set_documents(documents)
        assert [listing.item(r, 0).text() for r in range(listing.rowCount())] == [d.name for d in documents]
        assert listing.current_key() == "b"
        listing.update_document(broken)


# --- code picker --------------------------------------------------------------------------


def test_code_search_by_words_accents_and_code() -> None:
    search = CodeSearch.cached(Edition.CM, "es")
    assert search.search("J18.9")[0].code == "J18.9"
    assert [hit.code for hit in search.search("j18")][:2] == ["J18", "J18.0"]
    first = search.search("neumonia strepto")[0]
    assert (first.code, first.title) == ("J13", "Neumonía debida a Streptococcus pneumoniae")
    assert len(search.search("de", limit=25)) == 25
    assert search.search("zzzz") == [] and search.search("  ") == []
    greek = CodeSearch.cached(Edition.WHO, "el")
    # Found by Greek words: the code's title where it has one, else the Greek term that led to it.
    assert all("νευμον" in f"{hit.title} {hit.via}".lower() for hit in greek.search("πνευμονια", limit=5))


def test_picker_searches_as_you_type_and_returns_the_chosen_code(qtbot: QtBot) -> None:
    accepted: list[str | None] = []
    picker = CodePickerDialog(None, Edition.CM, "es", query="insuficiencia renal aguda", current="N17.9")
    qtbot.addWidget(picker)
    picker.accepted.connect(lambda: accepted.append(picker.chosen_code()))
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    assert picker.results.item(0).text().startswith("N17")
    assert picker.tree.currentItem().text(0) == "N17.9"  # the hierarchy opened at the current code
    assert picker.tree.currentItem().parent().text(0) == "N17"
    picker.query.setText("hipertension esencial")
    assert picker.results.item(0).text().split()[0] == "I10"
    QTest.keyClick(picker.query, Qt.Key.Key_Return)
    assert accepted == ["I10"]


def test_picker_ranks_by_relevance_and_use_and_moves_with_the_arrow_keys(qtbot: QtBot) -> None:
    """"neumonia" puts the code coders use first (not P23, the shortest title); Down and Up in the
    search box move through the results, Enter chooses the one moved to; its notes show below."""
    accepted: list[str | None] = []
    picker = CodePickerDialog(None, Edition.CM, "es", learned={"J12.9": 40})
    qtbot.addWidget(picker)
    picker.accepted.connect(lambda: accepted.append(picker.chosen_code()))
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    QTest.keyClicks(picker.query, "neumonia")  # typed without the accent (QTest types ASCII)
    rows = [picker.results.item(r).text().split()[0] for r in range(picker.results.count())]
    assert rows[0] == "J18.9" and rows.index("J12.9") < rows.index("J18.1")  # the site's choices count
    assert picker.chosen_code() == "J18.9" and "congenital pneumonia (P23.0)" in picker.notes.toPlainText()
    QTest.keyClick(picker.query, Qt.Key.Key_Down)
    QTest.keyClick(picker.query, Qt.Key.Key_Down)
    assert picker.results.currentRow() == 2 and picker.chosen_code() == rows[2]
    QTest.keyClick(picker.query, Qt.Key.Key_Up)
    assert picker.results.currentRow() == 1 and picker.query.text() == "neumonia"
    QTest.keyClick(picker.query, Qt.Key.Key_Return)
    assert accepted == [rows[1]]


def test_picker_finds_by_dictionary_terms_and_part_of_the_words(qtbot: QtBot) -> None:
    picker = CodePickerDialog(None, Edition.CM, "es", query="hipertensión endocraneal")
    qtbot.addWidget(picker)
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    assert picker.results.item(0).text().startswith("G93.2") and "“hipertensión endocraneal”" in \
        picker.results.item(0).text()  # the term that found it, beside the title
    picker.query.setText("neumonía neumoc")  # no title or term holds both words
    assert picker.results.count() > 0 and picker.chosen_code() is not None


def test_picker_browses_the_hierarchy_and_refuses_chapters(qtbot: QtBot) -> None:
    picker = CodePickerDialog(None, Edition.GM, "de")
    qtbot.addWidget(picker)
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    picker.tabs.setCurrentIndex(1)
    chapter = picker.tree.topLevelItem(0)
    picker.tree.setCurrentItem(chapter)
    ok = picker.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert chapter.text(0) == "A00-B99" and not ok.isEnabled() and picker.chosen_code() is None
    chapter.setExpanded(True)
    block = chapter.child(0)
    block.setExpanded(True)
    category = block.child(0)
    picker.tree.setCurrentItem(category)
    assert category.text(0) == "A00" and not ok.isEnabled()  # it has children: not a final code
    category.setExpanded(True)
    code = category.child(0)
    picker.tree.setCurrentItem(code)
    assert code.text(0) == "A00.0" and ok.isEnabled() and picker.chosen_code() == "A00.0"
    assert Catalog.bundled(Edition.GM).is_terminal(picker.chosen_code())


# --- help and autosave --------------------------------------------------------------------


def test_help_lists_every_shortcut_from_the_actions(qtbot: QtBot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    accept = QAction("&Accept", owner)
    accept.setShortcut(QKeySequence("A"))
    silent = QAction("No shortcut", owner)
    page = help_html([("Review", [accept, silent])])
    assert "<b>A</b></td><td>Accept" in page and "No shortcut" not in page and "struck through" in page


def test_autosave_hands_over_each_burst_and_reports_a_failure_once_then_retries(
    qtbot: QtBot, tmp_path: Path, messages: list[str]
) -> None:
    """The writer cannot open the database (a folder took its place): one message, nothing dropped;
    once the file can be written again, everything handed over meanwhile is saved."""
    parent = QWidget()
    qtbot.addWidget(parent)
    path = tmp_path / "session.sqlite3"
    opened = open_session(path)
    session = opened.session
    autosave = Autosave(parent, session, opened.database)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.mkdir()
    for n in range(3):
        session.documents.append(SessionDocument(f"d{n}", None))
        session.touch(f"d{n}")
        autosave.changed()
        qtbot.wait(20)
    qtbot.waitUntil(lambda: len(messages) == 1, timeout=5000)
    assert not autosave.save_now()
    assert len(messages) == 1 and "could not be saved" in messages[0] and "ICD-E402" in messages[0]

    path.rmdir()
    session.touch()
    assert autosave.save_now()
    opened.database.close()
    assert [d.key for d in open_session(path).session] == ["d0", "d1", "d2"]
