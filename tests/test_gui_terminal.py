"""Real widgets: the picker refuses codes with children (they expand), and titles are in the document's language."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QListWidgetItem
from pytestqt.qtbot import QtBot

from engine.core.codes import Edition
from engine.core.model import Document
from engine.linking.pipeline import Pipeline
from engine.linking.specificity import NEEDS_SPECIFIC_CODE
from gui.code_picker import CodePickerDialog
from gui.code_table import CodeSummary, MentionTable
from gui.presentation import describe

pytestmark = pytest.mark.usefixtures("messages")


def ready_picker(qtbot: QtBot, version: str | None = "2018", **options: object) -> CodePickerDialog:
    picker = CodePickerDialog(None, Edition.CM, "es", version=version, **options)  # type: ignore[arg-type]
    qtbot.addWidget(picker)
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    return picker


def rows(picker: CodePickerDialog) -> list[QListWidgetItem]:
    return [picker.results.item(i) for i in range(picker.results.count())]


def is_grey(picker: CodePickerDialog, item: QListWidgetItem) -> bool:
    return item.foreground().color() == picker.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)


def test_a_category_with_children_is_greyed_and_enter_expands_it_to_its_children(qtbot: QtBot) -> None:
    accepted: list[str | None] = []
    picker = ready_picker(qtbot, query="diabetes mellitus tipo 2")
    picker.accepted.connect(lambda: accepted.append(picker.chosen_code()))
    ok = picker.buttons.button(QDialogButtonBox.StandardButton.Ok)
    codes = [item.text().split()[0] for item in rows(picker)]
    assert codes[0] == "E11.9" and "E11" in codes  # the code coders use first, its category among the results
    at = codes.index("E11")
    category = picker.results.item(at)
    picker.results.setCurrentRow(at)
    assert is_grey(picker, category) and "more specific codes" in category.toolTip()
    assert picker.chosen_code() is None and not ok.isEnabled()  # E11 cannot be the final code
    assert not is_grey(picker, picker.results.item(0))  # terminal: chosen as shown

    QTest.keyClick(picker.query, Qt.Key.Key_Return)  # choosing E11 expands it instead
    assert accepted == []
    children = [item.text().split()[0] for item in rows(picker)[at + 1:at + 12]]
    assert children == ["E11.0", "E11.1", "E11.2", "E11.3", "E11.4", "E11.5", "E11.6", "E11.8", "E11.9"] + children[9:]
    assert picker.results.currentRow() == at + 1 and picker.results.item(at + 1).text().startswith("    E11.0")
    nine = next(item for item in rows(picker)[at + 1:at + 12] if item.text().split()[0] == "E11.9")
    picker.results.setCurrentItem(nine)
    assert picker.chosen_code() == "E11.9" and ok.isEnabled()
    QTest.keyClick(picker.query, Qt.Key.Key_Return)
    assert accepted == ["E11.9"]


def test_the_browse_tree_greys_categories_and_expands_them_when_chosen(qtbot: QtBot) -> None:
    picker = ready_picker(qtbot, current="J18.9")
    picker.tabs.setCurrentIndex(1)
    leaf = picker.tree.currentItem()
    category = leaf.parent()
    assert (category.text(0), leaf.text(0)) == ("J18", "J18.9")
    block = category.parent()  # the browse tree's blocks in Spanish too
    assert (block.text(0), block.text(1)) == (
        "J09-J18", "Enfermedades del sistema respiratorio — Influenza and pneumonia"
    )
    grey = picker.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert category.foreground(0).color() == grey and leaf.foreground(0).color() != grey
    assert picker.chosen_code() == "J18.9"
    category.setExpanded(False)
    picker.tree.setCurrentItem(category)
    assert picker.chosen_code() is None
    picker.tree.itemActivated.emit(category, 0)  # a double click or Enter on J18
    assert category.isExpanded() and picker.tree.currentItem() is category.child(0)
    assert picker.chosen_code() == category.child(0).text(0)  # J18.0, terminal


def test_what_may_be_chosen_follows_the_version(qtbot: QtBot) -> None:
    old = ready_picker(qtbot, "2018", query="cefalea")
    headache = next(item for item in rows(old) if item.text().split()[0] == "R51")
    old.results.setCurrentItem(headache)
    assert old.chosen_code() == "R51" and not is_grey(old, headache)  # CIE-10-ES 2018: R51 had no children
    assert "CIE-10-ES 2018" in old.windowTitle()
    new = ready_picker(qtbot, "2026", query="cefalea")
    headache = next(item for item in rows(new) if item.text().split()[0] == "R51")
    new.results.setCurrentItem(headache)
    assert new.chosen_code() is None and is_grey(new, headache)  # ICD-10-CM 2026 split it (R51.0, R51.9)


def test_tables_show_spanish_titles_first_and_the_edition_as_cie_10_es(qtbot: QtBot) -> None:
    text = "Refiere dolor abdominal y disnea. Antecedente de dispareunia."
    pipeline = Pipeline.bundled("es", exclude=frozenset({"codiesp-dev"}))
    assignments = pipeline.code(Document("d", text, "es")).assignments
    table, summary = MentionTable(), CodeSummary()
    qtbot.addWidget(table)
    qtbot.addWidget(summary)
    table.show_assignments(assignments, language="es")
    summary.show_assignments(assignments)
    model = table.model()
    shown = {model.index(r, 1).data(): (model.index(r, 2).data(), model.index(r, 3).data())
             for r in range(model.rowCount())}
    assert shown["R10.9"] == ("Dolor abdominal y pélvico — Unspecified abdominal pain", "CIE-10-ES")
    assert shown["R06.00"] == ("Disnea — Dyspnea, unspecified", "CIE-10-ES")
    with qtbot.waitExposed(summary):
        summary.show()  # the summary counts once on screen
    summary_titles = {summary.cell(r, 0): summary.cell(r, 1) for r in range(summary.model().rowCount())}
    assert summary_titles["R10.9"] == "Dolor abdominal y pélvico — Unspecified abdominal pain"
    dyspareunia = next(a for a in assignments if a.mention.text == "dispareunia")
    assert dyspareunia.provenance[NEEDS_SPECIFIC_CODE] == "N94.1"  # the dictionary's code has children
    explained = describe(dyspareunia, "es")
    assert "CIE-10-ES" in explained and "needs a more specific code" in explained
