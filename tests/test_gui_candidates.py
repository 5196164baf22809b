"""Candidates that explain: ranked by the score that chose, each saying which score it is, and a
click or Enter on one chooses it through the normal review path (undoable, audited)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from functools import cache

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from engine.core.model import Document, DocumentResult, ReviewStatus, Stage
from engine.linking.explain import explain
from engine.linking.pipeline import Pipeline
from engine.records.session import ReviewSession
from engine.records.settings import AppSettings
from gui.main_window import MainWindow
from tests.test_gui_window import show_result

pytestmark = pytest.mark.usefixtures("messages")

TEXT = "Patientin mit Myositis und Diabetes mellitus Typ 2."


@cache
def coded() -> DocumentResult:
    """The document coded once (ranking "Myositis" builds the German fuzzy index, seconds); results are frozen."""
    return Pipeline.bundled("de").code(Document("entlass", TEXT, "de"))


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    created = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(created)
    result = coded()
    show_result(created, result)
    index = next(i for i, a in enumerate(result.assignments) if a.mention.text == "Myositis")
    created.select_mention(index)
    yield created


def test_an_ambiguous_term_says_why_and_ranks_its_own_codes_before_similar_ones() -> None:
    """"Myositis" 0.40 beside similar entries: 0.40 is the term's share, theirs a similarity.

    (The curated German lexicon now settles "Adipositas", which this test used before.)"""
    result = coded()
    myositis = next(a for a in result.assignments if a.mention.text == "Myositis")
    explained = explain(myositis)
    assert "several codes" in explained.why and f"{myositis.score:.0%}" in explained.why
    kinds = [r.candidate.source.partition(":")[0] for r in explained.candidates]
    # The terminal codes under the term's category M60 first (it cannot be submitted), then the
    # term's own codes, then similar ones.
    assert kinds == sorted(kinds, key=["specific", "dictionary", "fuzzy"].index)
    for kind in ("dictionary", "fuzzy"):
        scores = [r.candidate.score for r in explained.candidates if r.candidate.source.startswith(kind)]
        assert scores == sorted(scores, reverse=True) and scores
    assert explained.candidates[0].chosen and explained.candidates[0].candidate.code == myositis.code
    assert all(("similarity" in r.reason) == r.candidate.source.startswith("fuzzy")
               for r in explained.candidates)
    settled = next(a for a in result.assignments if a.stage is Stage.DICTIONARY)
    assert explain(settled).why.startswith("exact dictionary term")


def test_clicking_a_candidate_chooses_it_and_the_audit_row_records_it(qtbot: QtBot, window: MainWindow) -> None:
    candidates = window.pane.candidates
    index = window.current_index
    assert index is not None
    codes = candidates.codes()
    proposed = window.current_document().result.assignments[index]  # type: ignore[union-attr]
    assert codes[0] == proposed.code and len(codes) > 3
    assert "Why:" in window.pane.details.toPlainText() and "several codes" in window.pane.details.toPlainText()
    other = next(r for r in explain(proposed).candidates if r.candidate.source.startswith("fuzzy"))
    row = codes.index(other.candidate.code)
    item = candidates.topLevelItem(row)
    candidates.scrollToItem(item)  # the codes under M60 come first: the similar ones may be below
    QTest.mouseClick(candidates.viewport(), Qt.MouseButton.LeftButton, pos=candidates.visualItemRect(item).center())
    chosen = window.current_document().result.assignments[index]  # type: ignore[union-attr]
    assert (chosen.code, chosen.status, chosen.stage) == (other.candidate.code, ReviewStatus.CORRECTED, Stage.USER)
    assert chosen.provenance["chosen_candidate"]["source"] == other.candidate.source
    assert chosen.provenance["proposed"]["code"] == proposed.code
    window.database.submit(window.session.take_changes())
    window.database.flush()
    with sqlite3.connect(window.database.path) as connection:
        rows = connection.execute("SELECT action, code_before, code_after, status_after FROM decisions").fetchall()
    assert rows[-1] == ("change_code", proposed.code, other.candidate.code, "corrected")

    window.undo_stack.undo()
    assert window.current_document().result.assignments[index].code == proposed.code  # type: ignore[union-attr]


def test_enter_on_a_candidate_chooses_it_and_the_proposed_one_is_accepted(qtbot: QtBot, window: MainWindow) -> None:
    candidates = window.pane.candidates
    index = window.current_index
    assert index is not None
    codes = candidates.codes()
    candidates.setFocus()
    candidates.setCurrentItem(candidates.topLevelItem(1))
    QTest.keyClick(candidates, Qt.Key.Key_Return)
    assert window.current_document().result.assignments[index].code == codes[1]  # type: ignore[union-attr]
    window.undo_stack.undo()
    candidates = window.pane.candidates
    candidates.setCurrentItem(candidates.topLevelItem(0))  # the proposed code: choosing it accepts it
    QTest.keyClick(candidates, Qt.Key.Key_Enter)
    accepted = window.current_document().result.assignments[index]  # type: ignore[union-attr]
    assert (accepted.code, accepted.status) == (codes[0], ReviewStatus.ACCEPTED)
