"""The review session survives a restart, a damaged file and a full disk; settings persist."""

import json
import os
from pathlib import Path

import pytest

from engine.catalog import Catalog
from engine.codes import Edition
from engine.errors import SessionError
from engine.export import ExportPreset
from engine.model import Document
from engine.pipeline import Pipeline
from engine.review import accept, change_code
from engine.session import DocumentState, ReviewSession, default_session_path
from engine.settings import AppSettings, default_settings_path

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


def test_paths_are_added_once_and_start_new(session: ReviewSession, tmp_path: Path) -> None:
    assert [d.name for d in session] == ["a.txt", "b.txt"]
    assert session.add_paths([tmp_path / "docs" / "a.txt"]) == []
    assert {d.state for d in session} == {DocumentState.NEW}


def test_states_follow_coding_and_review(session: ReviewSession) -> None:
    document = session.documents[0]
    document.coding = True
    assert document.state is DocumentState.CODING
    document.coding = False
    result = Pipeline.bundled("es").code(Document("a", TEXT, "es"))
    session.set_result(document.key, result)
    assert document.state is DocumentState.CODED and document.language == "es"
    for index in range(len(result.assignments)):
        result = accept(result, index)
    session.set_result(document.key, result)
    assert document.state is DocumentState.REVIEWED


def test_a_saved_session_restores_every_edit(session: ReviewSession, tmp_path: Path) -> None:
    result = Pipeline.bundled("es").code(Document("a", TEXT, "es"))
    result = change_code(result, 0, "I50.9", Catalog.bundled(Edition.CM))
    key = session.documents[0].key
    session.set_result(key, result)
    session.documents[1].edition = Edition.WHO
    session.documents[1].language_fixed = True
    path = session.save(tmp_path / "state" / "session.json")
    restored = ReviewSession.load(path)
    assert restored.get(key).result == result
    assert restored.documents[1].edition is Edition.WHO and restored.documents[1].language_fixed
    assert [d.to_dict() for d in restored] == [d.to_dict() for d in session]


def test_a_damaged_session_is_kept_aside_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text('{"format": "icdlinker-session-1", "documents": [{"trunc', encoding="utf-8")
    with pytest.raises(SessionError) as error:
        ReviewSession.load(path)
    assert error.value.code == "ICD-E402"
    kept = list(tmp_path.glob("session.json.damaged-*"))
    assert len(kept) == 1 and "trunc" in kept[0].read_text()
    assert ReviewSession.load(path).documents == []  # the next start begins afresh


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_saving_into_a_read_only_folder_says_so_and_keeps_the_old_file(session: ReviewSession, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = session.save(folder / "session.json")
    before = path.read_bytes()
    folder.chmod(0o500)
    try:
        session.documents.pop()
        with pytest.raises(SessionError):
            session.save(path)
        assert path.read_bytes() == before
    finally:
        folder.chmod(0o700)


def test_user_folders_can_be_redirected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICDLINKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ICDLINKER_CONFIG_DIR", str(tmp_path / "config"))
    assert default_session_path() == tmp_path / "data" / "session.json"
    assert default_settings_path() == tmp_path / "config" / "settings.json"


def test_settings_round_trip_and_bad_values_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = AppSettings().with_changes(fuzzy_threshold=0.8, export_preset="registry", export_delimiter=";")
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
    assert loaded.export_delimiter == ";"  # the good values stay
    path.write_text("{not json")
    assert AppSettings.load(path) == defaults
    with pytest.raises(ValueError):
        settings.with_changes(threads=0)
    assert AppSettings().with_changes(gpu_layers="12").gpu_layers_value() == 12
