"""CSV presets and options, read back with the csv module; failures lose nothing."""

import csv
import io
import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.core.errors import ExportError
from engine.core.model import Document, DocumentResult, ReviewStatus, Stage
from engine.linking.pipeline import Pipeline
from engine.records.audit import Action, ReviewStep, Step
from engine.records.audit_log import AuditLog
from engine.records.export import (
    CSV_COLUMNS,
    REGISTRY_COLUMNS,
    ExportOptions,
    ExportPreset,
    ExportSummary,
    check_writable,
    document_key,
    export_id,
    write_csv,
    write_json,
)
from engine.records.review import accept, reject
from engine.records.session import SessionDocument
from engine.records.session_db import open_session

TEXT = ("Mujer con neumonía basal derecha. Antecedente de neumonía hace dos años. Hipertensión arterial. "
        "Diabetes mellitus tipo 2.")


@pytest.fixture(scope="module")
def spanish() -> Pipeline:
    """One pipeline for the module: each new one loads its dictionary and builds its fuzzy index again."""
    return Pipeline.bundled("es")


@pytest.fixture(scope="module")
def reviewed(spanish: Pipeline) -> DocumentResult:
    result = spanish.code(Document("caso-ñ", TEXT, "es"))
    codes = [a.code for a in result.assignments]
    assert codes.count("J18.9") >= 2 or len(set(codes)) < len(codes), codes  # one code, several mentions
    result = accept(result, 0)
    return reject(result, len(result.assignments) - 1)


def read(path: Path, options: ExportOptions) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == options.excel_bom
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=options.delimiter))


def test_full_preset_has_one_row_per_mention_with_provenance(reviewed: DocumentResult, tmp_path: Path) -> None:
    options = ExportOptions()
    summary = write_csv(tmp_path / "full.csv", [reviewed], options)
    rows = read(tmp_path / "full.csv", options)
    assert summary.rows == len(rows) == len(reviewed.assignments) and summary.left_out == 0
    assert tuple(rows[0]) == CSV_COLUMNS
    in_text_order = sorted(reviewed.assignments, key=lambda a: a.mention.spans)
    assert [(r["spans"], r["code"], r["status"]) for r in rows] == [
        (a.mention.span_text, a.code, a.status.value) for a in in_text_order
    ]
    assert {r["document"] for r in rows} == {"caso-ñ"} and {r["path"] for r in rows} == {""}  # a pasted text
    for row, a in zip(rows, in_text_order):
        provenance = json.loads(row["provenance"])  # every row says where its code came from
        assert provenance["stage"] == a.stage.value and provenance["evidence"] == a.evidence
        assert a.provenance.items() <= provenance.items()


def test_registry_preset_has_one_row_per_code_and_drops_rejected(reviewed: DocumentResult, tmp_path: Path) -> None:
    options = ExportOptions(ExportPreset.REGISTRY, only_accepted=False, excel_bom=True, delimiter=";")
    write_csv(tmp_path / "registry.csv", [reviewed], options)
    rows = read(tmp_path / "registry.csv", options)
    assert tuple(rows[0]) == REGISTRY_COLUMNS
    expected = {a.code for a in reviewed.assignments if a.code and a.status is not ReviewStatus.REJECTED}
    assert [r["code"] for r in rows] == sorted(expected, key=[r["code"] for r in rows].index)
    assert len(rows) == len(expected)
    by_code = {r["code"]: r for r in rows}
    assert by_code[reviewed.assignments[0].code]["status"] == "accepted"  # the most settled status wins


def test_the_registry_takes_accepted_codes_by_default_and_counts_what_it_left_out(
    reviewed: DocumentResult, tmp_path: Path
) -> None:
    options = ExportOptions(ExportPreset.REGISTRY)
    summary = write_csv(tmp_path / "registry.csv", [reviewed], options)
    rows = read(tmp_path / "registry.csv", options)
    accepted = {a.code for a in reviewed.assignments if a.status is ReviewStatus.ACCEPTED}
    still_open = (ReviewStatus.PENDING, ReviewStatus.NEEDS_REVIEW)
    open_codes = {a.code for a in reviewed.assignments if a.code and a.status in still_open} - accepted
    assert {r["code"] for r in rows} == accepted and {r["status"] for r in rows} == {"accepted"}
    assert (summary.rows, summary.left_out, summary.unit) == (len(accepted), len(open_codes), "codes")
    assert open_codes and summary.describe().endswith(f"{summary.count(len(open_codes))} not yet accepted "
                                                      f"{'was' if len(open_codes) == 1 else 'were'} left out")


def test_only_accepted(reviewed: DocumentResult, tmp_path: Path) -> None:
    options = ExportOptions(only_accepted=True)
    write_csv(tmp_path / "accepted.csv", [reviewed], options)
    assert [r["status"] for r in read(tmp_path / "accepted.csv", options)] == ["accepted"]


def test_json_export_round_trips(reviewed: DocumentResult, tmp_path: Path) -> None:
    write_json(tmp_path / "s.json", {"results": [reviewed.to_dict()]})
    data = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert DocumentResult.from_dict(data["results"][0]) == reviewed


def test_a_failed_export_raises_and_leaves_the_old_file(reviewed: DocumentResult, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as error:
        write_csv(tmp_path / "missing-folder" / "x.csv", [reviewed])
    assert error.value.code == "ICD-E403"
    if os.geteuid() != 0:
        target = tmp_path / "old.csv"
        target.write_text("old content")
        tmp_path.chmod(0o500)
        try:
            with pytest.raises(ExportError):
                write_csv(target, [reviewed])
        finally:
            tmp_path.chmod(0o700)
        assert target.read_text() == "old content"
    assert not list(tmp_path.glob(".*.tmp"))


def test_outputs_are_checked_before_the_work(tmp_path: Path) -> None:
    for bad, problem in [(tmp_path / "missing" / "x.csv", "does not exist"), (tmp_path, "it is a folder")]:
        with pytest.raises(ExportError) as error:
            check_writable(bad)
        assert problem in str(error.value)
    check_writable(tmp_path / "new.csv")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind


def test_a_fifo_is_written_to_not_replaced(reviewed: DocumentResult, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_csv(fifo, [reviewed])
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received[0].startswith(b"document,spans,mention")


def test_document_ids_are_stable_and_unique_across_folders_with_the_path_in_its_own_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spanish: Pipeline
) -> None:
    """Two folders each hold an "informe.txt": today's stem would give both the same id."""
    paths = []
    for folder in ("urgencias", "consulta"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "informe.txt")
        paths[-1].write_text(TEXT, encoding="utf-8")
    results = [spanish.code(Document("informe", TEXT, "es", str(path))) for path in paths]
    options = ExportOptions()
    write_csv(tmp_path / "a.csv", results, options)
    rows = read(tmp_path / "a.csv", options)
    ids = {r["path"]: r["document"] for r in rows}
    assert set(ids) == {str(p) for p in paths} and len(set(ids.values())) == 2
    assert all(i.startswith("informe~") for i in ids.values())
    monkeypatch.chdir(tmp_path)  # the same file named by a relative path keeps its id
    relative = spanish.code(Document("informe", TEXT, "es", "urgencias/informe.txt"))
    assert export_id(relative.document) == ids[str(paths[0])]
    write_csv(tmp_path / "b.csv", results, ExportOptions(ExportPreset.REGISTRY, only_accepted=False))
    assert {r["document"] for r in read(tmp_path / "b.csv", options)} == set(ids.values())


def test_provenance_holds_stage_evidence_model_and_the_coders_decisions_from_the_audit_rows(
    reviewed: DocumentResult, tmp_path: Path
) -> None:
    database = tmp_path / "session.sqlite3"
    opened = open_session(database)
    source = tmp_path / "caso.txt"
    source.write_text(TEXT, encoding="utf-8")
    document = Document("caso", TEXT, "es", str(source))
    start = DocumentResult(document, reviewed.assignments)
    model = {"model": "qwen-1.5b", "model_sha256": "ab" * 32, "prompt_version": "icdlinker-prompt-1"}
    asked = start.assignments[1].with_changes(stage=Stage.LLM, status=ReviewStatus.NEEDS_REVIEW, provenance=model)
    start = DocumentResult(document, (start.assignments[0], asked, *start.assignments[2:]))
    key = document_key(document)
    opened.session.documents.append(SessionDocument(key, str(source)))
    after = accept(start, 1)
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    opened.session.set_result(key, after, ReviewStep(key, Action.ACCEPT, Step.DO, start, after, "M. García", at))
    opened.database.submit(opened.session.take_changes())
    opened.database.flush()
    audit = AuditLog.read(database)
    assert len(audit) == 1
    options = ExportOptions()
    write_csv(tmp_path / "full.csv", [after], options, audit)
    rows = read(tmp_path / "full.csv", options)
    by_spans = {r["spans"]: json.loads(r["provenance"]) for r in rows}
    decided = by_spans[asked.mention.span_text]
    assert decided["stage"] == "llm" and decided["model_sha256"] == "ab" * 32
    assert decided["prompt_version"] == "icdlinker-prompt-1" and decided["evidence"] == asked.evidence
    assert (decided["coder"], decided["decided_at"]) == ("M. García", "2026-12-01T09:30:00.000+00:00")
    assert [d["action"] for d in decided["decisions"]] == ["accept"]
    assert decided["decisions"][0]["status_after"] == "accepted"
    untouched = by_spans[after.assignments[0].mention.span_text]
    assert "decisions" not in untouched and untouched["stage"] == after.assignments[0].stage.value
    opened.database.close()


@pytest.fixture(scope="module")
def german() -> DocumentResult:
    return Pipeline.bundled("de").code(Document("brief", "Patient mit arterieller Hypertonie.", "de"))


@pytest.mark.parametrize("preset", [ExportPreset.FULL, ExportPreset.REGISTRY])
def test_every_row_says_the_language_its_document_was_coded_in_beside_the_edition(
    reviewed: DocumentResult, german: DocumentResult, tmp_path: Path, preset: ExportPreset
) -> None:
    options = ExportOptions(preset, only_accepted=False)
    write_csv(tmp_path / "out.csv", [reviewed, german], options)
    rows = read(tmp_path / "out.csv", options)
    assert options.columns.index("language") == options.columns.index("edition") + 1
    used = {(r["document"], r["edition"], r["language"]) for r in rows}
    assert used == {("caso-ñ", "cm", "es"), ("brief", "gm", "de")}
    tumour = ExportOptions(ExportPreset.TUMOUR).columns  # its rows: tests/test_icdo3.py
    assert tumour.index("language") == tumour.index("icd10_edition") + 1


def test_an_export_summary_speaks_of_one_row_in_the_singular() -> None:
    assert ExportSummary(1, 1, "tumours").describe() == "1 tumour written; 1 tumour not yet accepted was left out"
    assert ExportSummary(2, 0, "codes").describe() == "2 codes written"
