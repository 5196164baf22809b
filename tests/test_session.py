"""The review session survives a restart, damaged files and odd file names; every decision is audited.

Real SQLite files in tmp_path, the real dictionary pipeline for results.
"""

import json
import os
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from engine.core.codes import Edition
from engine.core.errors import SessionError
from engine.core.model import Document, DocumentResult, ReviewStatus, Stage
from engine.linking.pipeline import Pipeline
from engine.records.audit import Action, ReviewStep, Step
from engine.records.export import ExportPreset
from engine.records.review import accept, accept_stage, add_mention, change_code, delete, reject
from engine.records.session import (
    SESSION_FORMAT,
    DocumentState,
    ReviewSession,
    SessionDocument,
    default_session_path,
)
from engine.records.session_db import OpenedSession, open_session
from engine.records.settings import AppSettings, default_settings_path
from engine.terms.catalog import Catalog

TEXT = "Varón de 70 años con insuficiencia cardiaca e hipertensión arterial."


@pytest.fixture
def session(tmp_path: Path) -> ReviewSession:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "docs" / "b.txt").write_bytes("Diagnóstico: neumonía.".encode("cp1252"))
    (tmp_path / "docs" / ".hidden.txt").write_text("x")
    session = ReviewSession()
    session.add_paths([tmp_path / "docs"])
    return session


@cache
def _pipeline() -> Pipeline:
    return Pipeline.bundled("es")


def coded(key: str = "a", text: str = TEXT) -> DocumentResult:
    return _pipeline().code(Document(key, text, "es"))


def saved(opened: OpenedSession) -> OpenedSession:
    """Hand over what changed, wait for the writer, and open the database afresh."""
    opened.database.submit(opened.session.take_changes())
    opened.database.flush()
    opened.database.close()
    return open_session(opened.database.path)


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def test_paths_are_added_once_and_start_new(session: ReviewSession, tmp_path: Path) -> None:
    assert [d.name for d in session] == ["a.txt", "b.txt"]
    assert session.add_paths([tmp_path / "docs" / "a.txt"]) == []
    assert {d.state for d in session} == {DocumentState.NEW}


def test_states_follow_coding_and_review(session: ReviewSession) -> None:
    document = session.documents[0]
    document.coding = True
    assert document.state is DocumentState.CODING
    document.coding = False
    result = coded()
    session.set_result(document.key, result)
    assert document.state is DocumentState.CODED and document.language == "es"
    for index in range(len(result.assignments)):
        result = accept(result, index)
    session.set_result(document.key, result)
    assert document.state is DocumentState.REVIEWED


def test_a_saved_session_restores_every_edit_and_odd_file_names(tmp_path: Path) -> None:
    """A file name that is not UTF-8 (a Latin-1 byte) is stored as the file system's bytes and
    comes back as the same path: the file opens again."""
    folder = tmp_path / "docs"
    folder.mkdir()
    odd = Path(os.fsdecode(os.fsencode(folder) + b"/informe-\xf1o.txt"))  # ñ in Latin-1: not UTF-8
    odd.write_text(TEXT, encoding="utf-8")
    (folder / "otro.txt").write_text("Diagnóstico: neumonía.", encoding="utf-8")
    opened = open_session(tmp_path / "state" / "session.sqlite3")
    session = opened.session
    session.add_paths([folder])
    first, second = session.documents
    assert first.key.endswith("informe-\udcf1o.txt")
    result = change_code(coded(odd.stem), 0, "I50.9", Catalog.bundled(Edition.CM))
    session.set_result(first.key, replace(result, document=replace(result.document, source=first.source)))
    second.edition, second.language_fixed, second.language = Edition.WHO, True, "es"

    restored = saved(opened).session
    assert [d.to_dict() for d in restored] == [d.to_dict() for d in session]
    assert restored.get(first.key).result == session.get(first.key).result
    assert Path(restored.documents[0].source).read_text(encoding="utf-8") == TEXT  # type: ignore[arg-type]


def test_a_review_action_writes_that_document_only(tmp_path: Path) -> None:
    path = tmp_path / "session.sqlite3"
    opened = open_session(path)
    for n in range(30):
        opened.session.documents.append(SessionDocument(f"d{n}", None))
        opened.session.set_result(f"d{n}", coded(f"d{n}"))
    opened = saved(opened)
    before = dict(rows(path, "SELECT key, saved FROM documents"))
    document = opened.session.documents[7]
    reviewed = accept(document.result, 0)  # type: ignore[arg-type]
    opened.session.set_result(document.key, reviewed)
    opened = saved(opened)
    after = dict(rows(path, "SELECT key, saved FROM documents"))
    assert [os.fsdecode(k) for k in after if after[k] != before[k]] == ["d7"]
    assert opened.session.get("d7").result == reviewed


DAMAGED_JSON = {
    "truncated": b'{"format": "icdlinker-session-1", "documents": [{"trunc',
    "not utf-8": b'{"format": "icdlinker-session-1", "documents": [], "x": "\xff"}',
    "nested 100,000 deep": b"[" * 100_000,
    "a top-level list": b"[1, 2, 3]",
    "another format": b'{"format": "something-else", "documents": []}',
    "documents of the wrong shape": b'{"format": "icdlinker-session-1", "documents": [[1]]}',
}


@pytest.mark.parametrize("content", DAMAGED_JSON.values(), ids=DAMAGED_JSON.keys())
def test_a_damaged_session_json_is_kept_aside_never_overwritten(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "session.json").write_bytes(content)
    opened = open_session(tmp_path / "session.sqlite3")
    assert opened.problem is not None and opened.problem.code == "ICD-E402"
    assert "kept as session.json.damaged-" in opened.problem.message and len(opened.problem.message) < 400
    [kept] = tmp_path.glob("session.json.damaged-*")
    assert kept.read_bytes() == content
    assert len(opened.session) == 0 and not (tmp_path / "session.json").exists()
    opened.session.add_paths([])  # the fresh session saves
    assert saved(opened).problem is None


def _corrupt(path: Path) -> None:
    """A real session database whose pages were overwritten in the middle (a bad disk)."""
    opened = open_session(path)
    for n in range(40):
        opened.session.documents.append(SessionDocument(f"d{n}", None))
        opened.session.set_result(f"d{n}", coded(f"d{n}"))
    saved(opened).database.close()
    data = bytearray(path.read_bytes())
    data[4096:len(data) - 4096] = b"\x5a" * (len(data) - 8192)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["not a database", "another program's database", "corrupt pages"])
def test_a_damaged_database_is_kept_aside_and_a_new_one_started(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "session.sqlite3"
    if damage == "not a database":
        path.write_bytes(b"\x00\xffnot sqlite at all" * 100)
    elif damage == "another program's database":
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE notes (text TEXT)")
        other.close()
    else:
        _corrupt(path)
    content = path.read_bytes()
    opened = open_session(path)
    assert opened.problem is not None and opened.problem.code == "ICD-E402", damage
    assert "kept as session.sqlite3.damaged-" in opened.problem.message
    [kept] = tmp_path.glob("session.sqlite3.damaged-*[0-9]")
    assert kept.read_bytes() == content
    assert len(opened.session) == 0
    opened.session.documents.append(SessionDocument("new", None))
    opened.session.touch("new")
    assert [d.key for d in saved(opened).session] == ["new"]


def test_an_old_session_json_is_migrated_once(session: ReviewSession, tmp_path: Path) -> None:
    key = session.documents[0].key
    session.set_result(key, reject(coded(), 0))
    legacy = tmp_path / "data" / "session.json"
    legacy.parent.mkdir()
    legacy.write_text(json.dumps(session.to_dict(), ensure_ascii=False), encoding="utf-8")
    opened = open_session(tmp_path / "data" / "session.sqlite3")
    assert opened.problem is None
    assert [d.to_dict() for d in opened.session] == [d.to_dict() for d in session]
    assert not legacy.exists() and legacy.with_name("session.json.migrated").exists()
    again = saved(opened)
    assert again.session.get(key).result == session.get(key).result
    assert rows(again.database.path, "SELECT value FROM meta WHERE name = 'format'") == [("icdlinker-session-db-1",)]
    assert SESSION_FORMAT in legacy.with_name("session.json.migrated").read_text(encoding="utf-8")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_session_says_so_and_keeps_the_old_file(session: ReviewSession, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    opened = open_session(folder / "session.sqlite3")
    opened.session.documents.extend(session.documents)
    opened.session.touch()
    saved(opened).database.close()
    before = (folder / "session.sqlite3").read_bytes()
    (folder / "session.sqlite3").chmod(0o400)
    folder.chmod(0o500)
    try:
        opened = open_session(folder / "session.sqlite3")
        assert opened.problem is not None and "will not be saved" in opened.problem.message
        opened.session.add_paths([tmp_path / "docs"])
        opened.database.submit(opened.session.take_changes())
        opened.database.flush()  # in memory: the window goes on working
        assert (folder / "session.sqlite3").read_bytes() == before
    finally:
        folder.chmod(0o700)
        (folder / "session.sqlite3").chmod(0o600)


def test_an_interrupted_run_is_reported_at_the_next_start(tmp_path: Path) -> None:
    opened = open_session(tmp_path / "session.sqlite3")
    for key in ("done", "running", "queued"):
        opened.session.documents.append(SessionDocument(key, None))
        opened.session.touch(key)
    opened.session.set_result("done", coded("done"))
    for key in ("running", "queued"):
        opened.session.get(key).coding = True
    opened.session.set_result("running", coded("running"))
    again = saved(opened)
    assert again.interrupted == ["running", "queued"]
    assert not any(d.coding for d in again.session)


def _step(key: str, action: Action, before: DocumentResult, after: DocumentResult, step: Step = Step.DO) -> ReviewStep:
    return ReviewStep(key, action, step, before, after, "M. García", datetime.now(UTC))


def test_every_decision_leaves_one_audit_row_per_mention(tmp_path: Path) -> None:
    """accept, reject, change code, add, delete, accept all, undo and redo; the model's file and
    prompt come from the provenance the LLM stage recorded (nothing is hashed here)."""
    path = tmp_path / "session.sqlite3"
    opened = open_session(path)
    opened.session.documents.append(SessionDocument("doc", None))
    start = coded("doc", "Paciente con insuficiencia cardiaca, hipertensión arterial y diabetes mellitus.")
    model = {"model": "qwen-1.5b", "model_sha256": "ab" * 32, "prompt_version": "icdlinker-prompt-1"}
    first = start.assignments[0]
    llm = first.with_changes(stage=Stage.LLM, status=ReviewStatus.NEEDS_REVIEW, provenance=model)
    start = DocumentResult(start.document, (llm, *start.assignments[1:]))
    catalog = Catalog.bundled(Edition.CM)
    steps = []
    result = start
    for action, change in [
        (Action.ACCEPT, lambda r: accept(r, 0)),
        (Action.REJECT, lambda r: reject(r, 1)),
        (Action.CHANGE_CODE, lambda r: change_code(r, 0, "I50.1", catalog)),
        (Action.ADD_MENTION, lambda r: add_mention(r, [(0, 8)], "Z00.00", catalog)),
        (Action.DELETE, lambda r: delete(r, 0)),
        (Action.ACCEPT_ALL, lambda r: accept_stage(r, Stage.DICTIONARY)),
    ]:
        after = change(result)
        steps.append(_step("doc", action, result, after))
        result = after
    steps.append(_step("doc", Action.ACCEPT_ALL, result, steps[-1].before, Step.UNDO))
    steps.append(_step("doc", Action.ACCEPT_ALL, steps[-2].before, result, Step.REDO))
    for step in steps:
        opened.session.set_result("doc", step.after, step)
    saved(opened)
    audit = rows(path, "SELECT action, step, mention, code_before, code_after, status_before, status_after, "
                       "stage_before, stage_after, model, model_sha256, prompt_version, coder, document, spans "
                       "FROM decisions ORDER BY id")
    accepted_all = sum(a.stage is Stage.DICTIONARY and a.status is ReviewStatus.PENDING and a.code is not None
                       for a in steps[5].before.assignments)
    assert [r[:2] for r in audit] == [
        ("accept", "do"), ("reject", "do"), ("change_code", "do"), ("add_mention", "do"), ("delete", "do"),
        *[("accept_all", "do")] * accepted_all, *[("accept_all", "undo")] * accepted_all,
        *[("accept_all", "redo")] * accepted_all,
    ]
    assert accepted_all >= 1
    assert audit[0][3:12] == (llm.code, llm.code, "needs_review", "accepted", "llm", "llm", *model.values())
    assert audit[2][3:9] == (llm.code, "I50.1", "accepted", "corrected", "llm", "user")
    assert audit[2][9] == "qwen-1.5b"  # a correction of the model's proposal names the model
    assert audit[3][2:9] == ("Paciente", None, "Z00.00", None, "accepted", None, "user")
    assert audit[4][3:9] == ("Z00.00", None, "accepted", None, "user", None)  # the added one, deleted again
    assert audit[1][9:12] == (None, None, None)  # the dictionary's proposal: no model
    undo = audit[5 + accepted_all]
    assert (undo[5], undo[6]) == ("accepted", "pending")
    assert {r[12] for r in audit} == {"M. García"} and {r[13] for r in audit} == {b"doc"}
    assert json.loads(audit[3][14]) == [[0, 8]]


def test_user_folders_can_be_redirected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICDLINKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ICDLINKER_CONFIG_DIR", str(tmp_path / "config"))
    assert default_session_path() == tmp_path / "data" / "session.sqlite3"
    assert default_settings_path() == tmp_path / "config" / "settings.json"


def test_settings_round_trip_and_bad_values_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = AppSettings().with_changes(fuzzy_threshold=0.8, export_preset="registry", export_delimiter=";",
                                          coder="M. García")
    settings.save(path)
    assert AppSettings.load(path) == settings
    assert settings.export_options().preset is ExportPreset.REGISTRY
    data = json.loads(path.read_text())
    data.update(fuzzy_threshold=7, threads="many", gpu_layers="lots", export_preset="x", unknown=1)
    path.write_text(json.dumps(data))
    loaded = AppSettings.load(path)
    defaults = AppSettings()
    assert (loaded.fuzzy_threshold, loaded.threads, loaded.gpu_layers, loaded.export_preset) == (
        defaults.fuzzy_threshold, defaults.threads, "auto", defaults.export_preset
    )
    assert loaded.export_delimiter == ";" and loaded.coder == "M. García"  # the good values stay
    path.write_text("{not json")
    assert AppSettings.load(path) == defaults
    with pytest.raises(ValueError):
        settings.with_changes(threads=0)
    assert AppSettings().with_changes(gpu_layers="12").gpu_layers_value() == 12
    with pytest.raises(SessionError):
        AppSettings().save(tmp_path / "settings.json" / "inside-a-file.json")


def test_a_confirmed_empty_document_stays_confirmed_also_in_a_database_from_before(tmp_path: Path) -> None:
    """A database written before "no mentions found" gains its column on opening and loses nothing."""
    path = tmp_path / "session.sqlite3"
    opened = open_session(path)
    opened.session.documents.append(SessionDocument("empty", None))
    opened.session.set_result("empty", coded("empty", "Control en seis meses."))
    saved(opened).database.close()
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE documents DROP COLUMN confirmed")  # as an older version wrote it
    again = open_session(path)
    document = again.session.get("empty")
    assert document.result is not None and document.state is DocumentState.NO_MENTIONS
    again.session.set_result("empty", replace(document.result, confirmed_empty=True))
    restored = saved(again)
    assert restored.session.get("empty").state is DocumentState.REVIEWED
    restored.database.close()
