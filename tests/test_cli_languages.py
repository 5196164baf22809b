"""`icdlinker code` without --lang: each document in its own language, dictionary and edition."""

import csv
import json
import shutil
from pathlib import Path

from engine.cli import main
from engine.core.model import Document
from engine.linking.languages import LanguagePipelines
from engine.linking.pipeline import Pipeline
from engine.records.export import CSV_COLUMNS, REGISTRY_COLUMNS
from engine.records.settings import AppSettings

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
EDITIONS = {"es": "cm", "en": "cm", "de": "gm", "fr": "who", "el": "who"}


def _mixed_folder(root: Path) -> Path:
    """Every bundled sample in one folder, as a mixed batch from a hospital would come."""
    folder = root / "mixed"
    folder.mkdir()
    for sample in SAMPLES.glob("*/*.txt"):
        shutil.copy(sample, folder / sample.name)
    return folder


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _language_of(sample_name: str) -> str:
    (sample,) = SAMPLES.glob(f"*/{sample_name}.txt")
    return sample.parent.name


def test_a_mixed_folder_is_coded_each_document_in_its_language_and_edition(tmp_path: Path, user_dirs: Path) -> None:
    out = tmp_path / "out.csv"
    assert main(["code", str(_mixed_folder(tmp_path)), "-o", str(out)]) == 0
    rows = _rows(out)
    assert tuple(rows[0]) == CSV_COLUMNS and CSV_COLUMNS.index("language") == CSV_COLUMNS.index("edition") + 1
    used = {Path(r["path"]).stem: (r["language"], r["edition"]) for r in rows}
    assert set(used) == {p.stem for p in SAMPLES.glob("*/*.txt")}  # every sample found codes
    for name, (language, edition) in used.items():
        assert (language, edition) == (_language_of(name), EDITIONS[_language_of(name)]), name
    # The registry preset names each row's language too: two languages (one not in Latin script) show
    # it follows the document; the run above showed every language finds its own (three pipelines fewer).
    registry = tmp_path / "registry.csv"
    assert main(["code", str(SAMPLES / "de"), str(SAMPLES / "el"), "-o", str(registry), "--preset", "registry",
                 "--all-codes"]) == 0
    rows = _rows(registry)
    assert tuple(rows[0]) == REGISTRY_COLUMNS
    assert {r["language"] for r in rows} == {"de", "el"}
    assert all(r["language"] == _language_of(Path(r["path"]).stem) for r in rows)


def test_lang_forces_one_language_and_edition_flags_are_respected(tmp_path: Path, user_dirs: Path) -> None:
    folder, out = _mixed_folder(tmp_path), tmp_path / "out.csv"
    assert main(["code", str(folder), "--lang", "es", "-o", str(out)]) == 0
    rows = _rows(out)
    assert {(r["language"], r["edition"]) for r in rows} == {("es", "cm")}
    assert main(["code", str(folder), "--edition", "who", "-o", str(out)]) == 0
    rows = _rows(out)
    assert {r["edition"] for r in rows} == {"who"}  # every language, in the edition asked for
    assert {r["language"] for r in rows} == set(EDITIONS)


def test_the_printed_table_names_each_rows_language(tmp_path: Path, user_dirs: Path, capsys) -> None:
    assert main(["code", str(SAMPLES / "de"), str(SAMPLES / "el")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "language" in lines[0].split()
    assert any("entlassbrief" in line and " de " in line for line in lines)
    assert any("exitirio" in line and " el " in line for line in lines)


def test_a_text_that_does_not_tell_its_language_gets_the_settings_default_with_a_note(
    tmp_path: Path, user_dirs: Path, capsys
) -> None:
    AppSettings(default_language="fr").save()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "codes.txt").write_text("I10 — 12/03/2024 — 37,5 °C", encoding="utf-8")  # no word of any language
    (folder / "empty.txt").write_bytes(b"")
    (folder / "spanish.txt").write_text("Paciente con hipertensión arterial.", encoding="utf-8")
    out = tmp_path / "out.csv"
    status = main(["code", str(folder), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1  # the empty file failed, alone
    assert any("ICD-E101" in line and "empty.txt" in line for line in err.splitlines())
    notes = [line for line in err.splitlines() if "ICD-W102" in line]
    assert len(notes) == 1 and "codes.txt" in notes[0] and "'fr'" in notes[0] and "default_language" in notes[0]
    assert "Traceback" not in err
    languages = {Path(r["path"]).stem: r["language"] for r in _rows(out)}
    assert languages.get("spanish") == "es"
    assert main(["code", str(folder / "codes.txt"), "--lang", "de", "-o", str(out)]) == 0  # forced: no note
    assert "ICD-W102" not in capsys.readouterr().err


def test_a_spanish_batch_builds_only_the_spanish_pipeline() -> None:
    count = 1000
    built: list[str] = []

    def build(language: str) -> Pipeline:
        built.append(language)
        return Pipeline.bundled(language)

    pipelines = LanguagePipelines(build, default="de")
    texts = ["Paciente de 70 años con hipertensión arterial y diabetes mellitus.", "Dolor torácico y disnea."]
    # The language the documents came with is not trusted: detection decides.
    documents = [Document(f"d{i}", texts[i % 2], "de") for i in range(count)]
    results = list(pipelines.run(documents))
    assert built == ["es"] and set(pipelines.loaded) == {"es"}
    assert len(results) == count and all(r.error is None and r.document.language == "es" for r in results)
    assert sum(1 for r in results for a in r.assignments if a.code == "I10") == count // 2


def test_one_model_serves_every_language_of_a_batch(tmp_path: Path, user_dirs: Path, gemma_gguf: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # Marked mentions no dictionary settles, so the model is asked about each, in each document's language.
    (folder / "es.txt").write_text("La paciente presenta *un dolor raro en la barriga* desde ayer.", encoding="utf-8")
    (folder / "en.txt").write_text("The patient was admitted with *a funny ache in the belly*.", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["code", str(folder), "--marked", "--model", str(gemma_gguf), "-o", str(out)]) == 0
    rows = _rows(out)
    assert sorted((Path(r["path"]).stem, r["language"]) for r in rows) == [("en", "en"), ("es", "es")]
    assert all(json.loads(r["provenance"]).get("model") for r in rows)  # the model saw both
    summary = [line for line in capsys.readouterr().err.splitlines() if line.startswith("llm:")]
    assert len(summary) == 1 and summary[0].startswith("llm: 2 mentions")  # one model, both languages' figures
