"""A document coded with ICD-10 and ICD-O-3 at once in the window: a real CANTEMIST oncology report.

The setting is turned on in the settings dialog, the document coded by the window's run; both
classifications show apart (tabs, highlights), an ICD-O-3 code is corrected through the picker of
its own catalog, the decisions survive a restart, and the tumour preset is exported from the window.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from heapq import merge
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextFormat
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from engine.core.codes import Edition
from engine.core.model import Assignment, Document, DocumentResult, Mention, ReviewStatus, Span, Stage
from engine.evaluation.model_check import reviewed_gold
from engine.linking.pipeline import Pipeline
from engine.records.audit import Action, ReviewStep, Step, audit_rows
from engine.records.export import ExportOptions, ExportPreset, csv_rows
from engine.records.review import accept_stage, code_everywhere
from engine.records.session import ReviewSession, SessionDocument, default_session_path
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog
from engine.text.annotations import load_brat
from gui.app import open_window
from gui.code_picker import CodePickerDialog
from gui.code_table import CodeSummary
from gui.export_dialog import ExportDialog
from gui.main_window import MainWindow
from gui.settings_dialog import SettingsDialog
from tests.heartbeat import ASSERTED_GAP_S, Heartbeat

pytestmark = pytest.mark.usefixtures("messages")

CANTEMIST_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cantemist" / "train"
REPORT = "cc_onco266"  # 1.6 kB: prostate and pancreas adenocarcinoma, family history of cancers


@pytest.fixture
def report(tmp_path: Path) -> Path:
    folder = tmp_path / "documents"
    folder.mkdir()
    return Path(shutil.copy(CANTEMIST_TRAIN / f"{REPORT}.txt", folder))


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    created = MainWindow(ReviewSession(), AppSettings())
    qtbot.addWidget(created)
    created.show()  # the code tables fill when on screen
    yield created


def _morphology(result: DocumentResult) -> list[int]:
    return [i for i, a in enumerate(result.assignments) if a.edition is Edition.ICDO3]


def _export(qtbot: QtBot, window: MainWindow, target: Path, preset: ExportPreset, messages: list[str],
            monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    shown = len(messages)
    window.export()
    dialog = window.dialog
    assert isinstance(dialog, ExportDialog)
    dialog.csv.setChecked(True)
    dialog.all.setChecked(True)
    dialog.preset.setCurrentIndex(dialog.preset.findData(preset.value))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: any(m.startswith("icdlinker\nExported") for m in messages[shown:]), timeout=20_000)
    with target.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream, delimiter=window.settings.export_delimiter))


def test_icd10_and_icdo3_coded_reviewed_restored_and_exported_as_tumours(
    qtbot: QtBot, window: MainWindow, report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    messages: list[str],
) -> None:
    # The setting, as the coder turns it on: Edit → Settings…
    window.edit_settings()
    settings_dialog = window.dialog
    assert isinstance(settings_dialog, SettingsDialog)
    editor = settings_dialog.editors["code_morphology"]
    assert editor.get() is False  # off by default
    editor.set(True)
    settings_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert window.settings.code_morphology and window.coding.coder.settings.code_morphology

    window.open_paths([report])
    with qtbot.waitSignal(window.coding.running_changed, timeout=120_000,
                          check_params_cb=lambda running: not running):
        window.code_new()
    document = window.session.documents[0]
    result = document.result
    assert result is not None
    # The window's run gives what the two pipelines give on their own, together in text order.
    icd10 = Pipeline.bundled("es").code(result.document).assignments
    icdo3 = Pipeline.bundled("es", Edition.ICDO3).code(result.document).assignments
    assert sorted(result.assignments, key=lambda a: (a.mention.start, a.edition is Edition.ICDO3)) == list(
        result.assignments)
    assert [a for a in result.assignments if a.edition is not Edition.ICDO3] == list(icd10)
    assert [a for a in result.assignments if a.edition is Edition.ICDO3] == list(icdo3)
    gold = {(m.mention.start, m.mention.end): m.code for m in load_brat(
        CANTEMIST_TRAIN / f"{REPORT}.ann", "es", Edition.ICDO3)[0].mentions}
    found = {(a.mention.start, a.mention.end): a.code for a in icdo3}
    assert sum(found.get(span) == code for span, code in gold.items()) >= len(gold) - 1  # real morphology codes
    assert {a.edition for a in icd10} == {Edition.CM}

    # Apart in the tables: a code tab per classification, the Ed. column, the filter; the worklist counts both.
    pane = window.pane
    assert pane.tables.isTabVisible(2) and pane.tables.tabText(1) == "ICD-10 codes"
    pane.tables.setCurrentIndex(1)
    icd10_codes = {pane.summary.cell(r, 0) for r in range(pane.summary.model().rowCount())}
    pane.tables.setCurrentIndex(2)
    summary = pane.morphology_summary
    icdo3_codes = {summary.cell(r, 0) for r in range(summary.model().rowCount())}
    assert icd10_codes == {a.code for a in icd10 if a.code} and icdo3_codes == {a.code for a in icdo3 if a.code}
    pane.tables.setCurrentIndex(0)
    assert pane.mentions.model().rowCount() == len(result.assignments)
    edition_cells = {pane.mentions.model().index(pane.mentions.row_of(i), 3).data() for i in _morphology(result)}
    assert edition_cells == {"CIE-O-3 morfología"}
    cell = pane.mentions.model().index(pane.mentions.row_of(_morphology(result)[0]), 3)
    assert cell.data(Qt.ItemDataRole.ToolTipRole) == "CIE-O-3 morfología"  # whole, where the column cuts it
    pane.filter_mentions(pane.mention_filter.findText("ICD-O-3 only"))
    shown = [i for i in range(len(result.assignments)) if not pane.mentions.isRowHidden(pane.mentions.row_of(i))]
    assert shown == _morphology(result)
    pane.filter_mentions(0)
    assert f"{len(result.assignments)} mentions ({len(icdo3)} ICD-O-3)" in pane.title.text()
    assert window.documents.item(0, 3).text() == str(len(result.assignments))  # the worklist's "#"

    # Apart in the text: a line over every ICD-O-3 highlight, none over an ICD-10 one.
    overlined = {}
    for selection in pane.text.extraSelections():
        overlined.setdefault(selection.format.property(QTextFormat.Property.UserProperty), set()).add(selection.format.fontOverline())
    assert overlined == {i: {result.assignments[i].edition is Edition.ICDO3} for i in range(len(result.assignments))}

    # Correct an ICD-O-3 code: the picker searches and browses ICD-O-3, behaviour codes terminal as the catalog says.
    poorly = next(i for i in _morphology(result) if "pobremente" in result.assignments[i].mention.text)
    window.select_mention(poorly)
    window.review.mention_actions[2].trigger()  # Change code…
    picker = window.dialog
    assert isinstance(picker, CodePickerDialog)
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    assert "CIE-O-3" in picker.windowTitle()
    assert picker.tree.topLevelItem(0).text(0) == "8000-9992"
    assert picker.is_final("8140/3") and picker.is_final("8140/34") and not picker.is_final("8140")
    picker.query.setText("8140/34")
    codes = [picker.results.item(i).text().split()[0] for i in range(picker.results.count())]
    picker.results.setCurrentRow(codes.index("8140/34"))
    picker.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    corrected = document.result.assignments[poorly]  # type: ignore[union-attr]
    assert (corrected.code, corrected.edition, corrected.status) == ("8140/34", Edition.ICDO3, ReviewStatus.CORRECTED)

    # Accept the rest (Shift+A) through the audited path: one audit row per mention and classification.
    window.review.accept_dictionary()
    window.save_session()
    with sqlite3.connect(default_session_path()) as connection:
        rows = connection.execute("SELECT action, spans, edition, code_after FROM decisions").fetchall()
    assert ("change_code", f"[[{corrected.mention.start}, {corrected.mention.end}]]", "icdo3", "8140/34") in rows
    accepted = {(spans, edition, code) for action, spans, edition, code in rows if action == "accept_all"}
    now = document.result
    assert accepted == {(f"[[{a.mention.start}, {a.mention.end}]]", a.edition.value, a.code)
                        for a, b in zip(result.assignments, now.assignments, strict=True)  # type: ignore[union-attr]
                        if a.status is not b.status and b.status is ReviewStatus.ACCEPTED}
    assert {edition for _, edition, _ in accepted} == {"cm", "icdo3"}
    window.undo_stack.undo()  # Shift+A undone and redone, both classifications
    assert document.result.assignments[poorly].status is ReviewStatus.CORRECTED  # type: ignore[union-attr]
    assert any(a.status is ReviewStatus.PENDING for a in document.result.assignments)  # type: ignore[union-attr]
    window.undo_stack.redo()
    reviewed = document.result
    window.close()

    # Restart: the session database gives back both classifications and every decision.
    restored = open_window()
    qtbot.addWidget(restored)
    restored.show()
    assert restored.settings.code_morphology  # saved with the settings
    again = restored.session.documents[0].result
    assert again is not None and again.assignments == reviewed.assignments  # type: ignore[union-attr]
    assert again.assignments[poorly].code == "8140/34"
    assert restored.pane.tables.isTabVisible(2)

    # Export from the window: the tumour preset from the reviewed decisions, the full one marks ICD-O-3 rows.
    tumours = _export(qtbot, restored, tmp_path / "tumours.csv", ExportPreset.TUMOUR, messages, monkeypatch)
    expected = csv_rows([again], ExportOptions(ExportPreset.TUMOUR))
    assert [list(row.values()) for row in tumours] == expected and tumours
    poorly_row = next(row for row in tumours if row["morphology"] == "8140/34")
    assert (poorly_row["morphology_status"], poorly_row["histology"], poorly_row["grade"]) == ("corrected", "8140", "4")
    assert any(row["icd10_code"] and row["morphology"] for row in tumours)  # a site paired with its histology
    full = _export(qtbot, restored, tmp_path / "full.csv", ExportPreset.FULL, messages, monkeypatch)
    assert sorted(row["edition"] for row in full) == sorted(a.edition.value for a in again.assignments)


def test_audit_rows_keep_an_icd10_and_an_icdo3_mention_of_the_same_words_apart() -> None:
    """Accepting both at once writes two rows, each with its own code and classification."""
    text = "hepatocarcinoma"
    mention = Mention((Span(0, len(text)),), text)
    both = tuple(Assignment(mention, code, edition, "", Stage.DICTIONARY, 1.0)
                 for code, edition in (("C22.0", Edition.CM), ("8170/3", Edition.ICDO3)))
    before = DocumentResult(Document("d", text, "es"), both)
    step = ReviewStep("d", Action.ACCEPT_ALL, Step.DO, before, accept_stage(before), "coder", datetime.now(UTC))
    rows = audit_rows(step)
    assert sorted((r.edition, r.code_before, r.code_after) for r in rows) == [
        ("cm", "C22.0", "C22.0"), ("icdo3", "8170/3", "8170/3")]


def _both_on(text: str, words: str) -> DocumentResult:
    """``words`` at the start of ``text`` coded twice: C80.1 (CM) and 8140/3 (ICD-O-3)."""
    mention = Mention((Span(0, len(words)),), words)
    return DocumentResult(Document("d", text, "es"), tuple(
        Assignment(mention, code, edition, "", Stage.DICTIONARY, 1.0)
        for code, edition in (("C80.1", Edition.CM), ("8140/3", Edition.ICDO3))))


def test_every_occurrence_of_an_icdo3_correction_leaves_the_icd10_mentions_alone() -> None:
    text = "adenocarcinoma; recidiva de adenocarcinoma"
    result = code_everywhere(_both_on(text, "adenocarcinoma"), "adenocarcinoma", "8140/33",
                             Catalog.bundled(Edition.ICDO3))
    second = text.rindex("adenocarcinoma")
    assert sorted((a.mention.start, a.code, a.edition.value) for a in result.assignments) == [
        (0, "8140/33", "icdo3"), (0, "C80.1", "cm"), (second, "8140/33", "icdo3")]


def test_a_model_is_tested_on_the_reviewed_icd10_codes_only() -> None:
    reviewed = accept_stage(_both_on("adenocarcinoma", "adenocarcinoma"))
    assert [m.code for gold in reviewed_gold([reviewed]) for m in gold.mentions] == ["C80.1"]


def test_the_export_dialog_offers_the_tumour_preset_and_remembers_it(qtbot: QtBot) -> None:
    dialog = ExportDialog(None, AppSettings(), True)
    qtbot.addWidget(dialog)
    dialog.preset.setCurrentIndex(dialog.preset.findData(ExportPreset.TUMOUR.value))
    assert dialog.only_accepted.isChecked()  # a registry takes reviewed codes by default
    dialog.only_accepted.setChecked(False)
    assert dialog.choice().options == ExportOptions(ExportPreset.TUMOUR, False, True, ",")
    remembered = dialog.remembered(AppSettings())
    again = ExportDialog(None, remembered, True)
    qtbot.addWidget(again)
    assert again.preset.currentData() == "tumour" and not again.only_accepted.isChecked()


def test_the_icdo3_summary_follows_every_mention_of_a_code_recoded_at_once(qtbot: QtBot) -> None:
    """"Apply to every occurrence" recodes all of a term's mentions in one step: the summary moved them one by
    one and looked for the old code's next first mention among ones not counted yet (StopIteration; raised
    inside an undo command, PySide6 6.11 died of it)."""
    tumours = tuple(Assignment(Mention((Span(s, s + 5),), "tumor"), "8000/1", Edition.ICDO3, "", Stage.DICTIONARY, 1.0)
                    for s in (0, 7, 14))
    summary = CodeSummary(morphology=True)
    qtbot.addWidget(summary)
    with qtbot.waitExposed(summary):
        summary.show()
    summary.show_assignments(tumours)
    recoded = tuple(a.with_changes(code="8010/3", status=ReviewStatus.CORRECTED) for a in tumours)
    rows = []
    for shown in ((recoded[0], *tumours[1:]), recoded, (recoded[0], *tumours[1:]), tumours):  # do, then undo
        summary.show_assignments(shown)
        rows.append([(summary.cell(r, 0), summary.cell(r, 2)) for r in range(summary.model().rowCount())])
    assert rows == [[("8010/3", "1"), ("8000/1", "2")], [("8010/3", "3")], [("8010/3", "1"), ("8000/1", "2")],
                    [("8000/1", "3")]]
    assert summary.codes.first(0) == 0  # the code's first mention, where a click on its row goes


def _copies(qtbot: QtBot, tmp_path: Path, count: int) -> tuple[MainWindow, DocumentResult]:
    """A window on ``count`` copies of a 13 kB oncology report ("tumor" 18 times), coded in both classifications."""
    source = CANTEMIST_TRAIN / "cc_onco778.txt"
    document = Document("cc_onco778", source.read_text(encoding="utf-8"), "es")
    coded = DocumentResult(document, tuple(merge(Pipeline.bundled("es").code(document).assignments, Pipeline.bundled(
        "es", Edition.ICDO3).code(document).assignments, key=lambda a: a.mention.start)))
    session = ReviewSession()
    for n in range(count):
        path = str(tmp_path / f"report{n}.txt")
        session.documents.append(SessionDocument(path, path, "es", result=coded))
    window = MainWindow(session, AppSettings(code_morphology=True), session_path=tmp_path / "session.json")
    qtbot.addWidget(window)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    return window, coded


def _picker_for_a_tumour(qtbot: QtBot, window: MainWindow, code: str) -> CodePickerDialog:
    """The picker of the first ICD-O-3 "tumor", ready, with ``code`` chosen."""
    window.select_mention(next(i for i, a in enumerate(window.session.documents[0].result.assignments)  # type: ignore[union-attr]
                               if a.edition is Edition.ICDO3 and a.mention.text == "tumor"))
    window.review.mention_actions[2].trigger()  # Change code…
    picker = window.dialog
    assert isinstance(picker, CodePickerDialog)
    qtbot.waitUntil(picker.is_ready, timeout=60_000)
    picker.query.setText(code)
    picker.results.setCurrentRow(0)
    assert picker.chosen_code() == code
    return picker


def _everywhere(qtbot: QtBot, window: MainWindow, picker: CodePickerDialog) -> None:
    """OK in the picker, then "…and in the open documents" once the question comes."""
    picker.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: isinstance(window.dialog, QMessageBox), timeout=60_000)
    next(b for b in window.dialog.buttons() if b.text() == "…and in the open documents").click()  # type: ignore[union-attr]


def _tumour_codes(window: MainWindow) -> set[str | None]:
    return {a.code for d in window.session for a in d.result.assignments  # type: ignore[union-attr]
            if a.edition is Edition.ICDO3 and a.mention.text.casefold() == "tumor"}


def test_apply_to_every_occurrence_searches_and_recodes_hundreds_of_oncology_reports_without_freezing(
    qtbot: QtBot, tmp_path: Path, user_dirs: Path,
) -> None:
    """"tumor" stands in nearly every oncology report, so the quick test for a missing word lets each one be
    tokenized: 300 reports of 13 kB held the UI thread for seconds, to count and then to recode them."""
    window, _ = _copies(qtbot, tmp_path, 300)
    picker = _picker_for_a_tumour(qtbot, window, "8010/3")
    beat = Heartbeat(window)
    _everywhere(qtbot, window, picker)
    qtbot.waitUntil(lambda: window.undo_stack.count() == 2, timeout=60_000)
    _, own = beat.report("searching and recoding 300 reports")
    assert _tumour_codes(window) == {"8010/3"}
    assert own < ASSERTED_GAP_S, f"the window froze for {own * 1000:.0f} ms"


def test_a_decision_made_while_the_open_documents_are_recoded_is_kept(
    qtbot: QtBot, tmp_path: Path, user_dirs: Path,
) -> None:
    """The recoding runs off the UI thread: a document the coder reviews meanwhile is recoded from what it
    holds then, not from what it held when the recoding began."""
    window, coded = _copies(qtbot, tmp_path, 3)
    _everywhere(qtbot, window, _picker_for_a_tumour(qtbot, window, "8010/3"))  # recoding; the coder goes on at once
    other = window.session.documents[1]
    window.documents.select_key(other.key)
    site = next(i for i, a in enumerate(coded.assignments) if a.edition is Edition.CM and a.code)
    window.select_mention(site)
    window.review.accept()
    qtbot.waitUntil(lambda: window.undo_stack.count() == 3, timeout=60_000)
    assert other.result is not None
    accepted = next(a for a in other.result.assignments if a.mention == coded.assignments[site].mention
                    and a.edition is Edition.CM)
    assert accepted.status is ReviewStatus.ACCEPTED
    assert _tumour_codes(window) == {"8010/3"}
