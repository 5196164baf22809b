"""CSV presets and options, read back with the csv module; failures lose nothing."""

import csv
import io
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from engine.core.errors import ExportError
from engine.core.model import Document, DocumentResult, ReviewStatus
from engine.linking.pipeline import Pipeline
from engine.records.export import (
    CSV_COLUMNS,
    REGISTRY_COLUMNS,
    ExportOptions,
    ExportPreset,
    check_writable,
    write_csv,
    write_json,
)
from engine.records.review import accept, reject

TEXT = "Mujer con neumonía basal derecha. Antecedente de neumonía hace dos años. Hipertensión arterial."


@pytest.fixture(scope="module")
def reviewed() -> DocumentResult:
    result = Pipeline.bundled("es").code(Document("caso-ñ", TEXT, "es"))
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
    count = write_csv(tmp_path / "full.csv", [reviewed], options)
    rows = read(tmp_path / "full.csv", options)
    assert count == len(rows) == len(reviewed.assignments)
    assert tuple(rows[0]) == CSV_COLUMNS
    in_text_order = sorted(reviewed.assignments, key=lambda a: a.mention.spans)
    assert [(r["spans"], r["code"], r["status"]) for r in rows] == [
        (a.mention.span_text, a.code, a.status.value) for a in in_text_order
    ]
    assert {r["document"] for r in rows} == {"caso-ñ"}
    assert all(json.loads(r["provenance"]) == a.provenance for r, a in zip(rows, in_text_order) if r["provenance"])


def test_registry_preset_has_one_row_per_code_and_drops_rejected(reviewed: DocumentResult, tmp_path: Path) -> None:
    options = ExportOptions(ExportPreset.REGISTRY, excel_bom=True, delimiter=";")
    write_csv(tmp_path / "registry.csv", [reviewed], options)
    rows = read(tmp_path / "registry.csv", options)
    assert tuple(rows[0]) == REGISTRY_COLUMNS
    expected = {a.code for a in reviewed.assignments if a.code and a.status is not ReviewStatus.REJECTED}
    assert [r["code"] for r in rows] == sorted(expected, key=[r["code"] for r in rows].index)
    assert len(rows) == len(expected)
    by_code = {r["code"]: r for r in rows}
    assert by_code[reviewed.assignments[0].code]["status"] == "accepted"  # the most settled status wins


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
