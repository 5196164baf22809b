"""ICD-O-3: code forms, the catalogs and dictionaries as built, linking, CANTEMIST eval, tumour export."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dictionaries import build, cantemist
from engine.cli import main
from engine.core.codes import (
    Edition,
    Level,
    at_level,
    canonical_code,
    is_code_like,
    is_morphology,
    normalize_code,
    normalize_morphology,
)
from engine.core.model import Assignment, Document, DocumentResult, Mention, ReviewStatus, Span, Stage
from engine.linking import languages
from engine.linking.pipeline import Pipeline
from engine.records.export import TUMOUR_COLUMNS, ExportOptions, ExportPreset, csv_rows, write_csv
from engine.records.tumour_export import NO_MORPHOLOGY, NO_SITE
from engine.terms.catalog import Catalog
from engine.terms.dictionary import LinkingRule, TermDictionary, TermEntry
from engine.text.abbreviations import defined_abbreviations
from engine.text.annotations import load_brat
from engine.text.readers import read_document

ROOT = Path(__file__).resolve().parents[1]
CANTEMIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "cantemist"
COMPILED = build.COMPILED_DIR


def load(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


# -- code forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("8140/3", "8140/3"), ("M-8140/3", "8140/3"), ("m8140/33", "8140/33"), ("8010/3/h", "8010/3/H"),
        (" 8000/6 ", "8000/6"),
    ],
)
def test_morphology_codes_normalise(raw: str, canonical: str) -> None:
    assert normalize_morphology(raw) == canonical == canonical_code(raw)


@pytest.mark.parametrize("bad", ["8140/4", "814/3", "8140", "81403", "C50.9"])
def test_non_morphology_codes_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_morphology(bad)


def test_icd10_handling_is_unchanged_and_topography_is_icd10_shaped() -> None:
    assert not is_code_like("8000/6")
    with pytest.raises(ValueError):
        normalize_code("8140/3")
    assert canonical_code("c509") == normalize_code("C50.9") == "C50.9"


def test_morphology_levels_are_histology_behaviour_and_whole_code() -> None:
    assert [at_level("8140/33/H", level) for level in Level] == ["8140", "8140/3", "8140/33/H"]


# -- the build ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def without_dev2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("icdo3-build")
    build.main(["--only", "icdo3", "--exclude", "cantemist-dev2", "--out", str(out)])
    return out


def test_build_writes_both_catalogs_and_both_dictionaries_without_dev2(without_dev2: Path) -> None:
    names = sorted(path.name for path in without_dev2.iterdir())
    assert names == ["en.icdo3.terms.json.gz", "es.icdo3.terms.json.gz", "icdo3.catalog.json.gz",
                     "icdo3t.catalog.json.gz"]
    for path in without_dev2.iterdir():
        assert "cantemist-dev2" not in gzip.decompress(path.read_bytes()).decode("utf-8")
    es = load(without_dev2 / "es.icdo3.terms.json.gz")
    assert set(es["sources"]) == {"cantemist-train", "cantemist-dev1", "icdo3-es"}
    assert es["edition"] == "icdo3" and es["detection"] == {"nested": False}
    # Only the dev2 split is gone: the compiled dictionary's other sources give the same entries.
    assert load(COMPILED / "en.icdo3.terms.json.gz") == load(without_dev2 / "en.icdo3.terms.json.gz")


def test_catalogs_hold_every_cantemist_code_with_behaviour_and_titles(without_dev2: Path) -> None:
    morphology = Catalog.from_file(without_dev2 / "icdo3.catalog.json.gz")
    gold = set().union(*(cantemist.gold_codes(split) for split in cantemist.SPLITS))
    assert all(morphology.is_valid(code) and morphology.is_terminal(code) for code in gold)
    assert morphology.title("8140/3", "es") == "Adenocarcinoma, SAI"
    assert morphology.title("8140/3", "en") == "Adenocarcinoma, NOS"
    assert morphology.parent("8140/33/H") == "8140/33" and morphology.parent("8140/33") == "8140/3"
    assert not morphology.is_terminal("8140")  # a histology needs its behaviour
    topography = Catalog.from_file(without_dev2 / "icdo3t.catalog.json.gz")
    assert topography.is_valid("C50.9") and topography.title("C50.9", "en") == "Breast, NOS"


def test_rebuild_reproduces_compiled_icdo3_bytes(tmp_path: Path) -> None:
    build.main(["--only", "icdo3", "--out", str(tmp_path)])
    for path in sorted(tmp_path.iterdir()):
        assert path.read_bytes() == (COMPILED / path.name).read_bytes(), path.name


# -- dictionary, rule, linking --------------------------------------------------------------------


def test_morphology_codes_of_one_histology_compete_in_the_unambiguity_rule() -> None:
    entry = TermEntry("adenocarcinoma", "adenocarcinoma", (("8140/3", 5), ("8140/33", 3)), frozenset(), 0, 0)
    assert LinkingRule().decide(entry) is None  # not folded into 8140/33 as I50 would be into I50.9


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.bundled("es", Edition.ICDO3, exclude=frozenset({"cantemist-dev2"}))


def test_the_spanish_morphology_dictionary_settles_and_leaves_out_a_split(pipeline: Pipeline) -> None:
    assert pipeline.catalog.edition is Edition.ICDO3 and pipeline.dictionary.edition is Edition.ICDO3
    assert not pipeline.dictionary.policy.nested  # CANTEMIST annotates the longest span only
    assert "cantemist-dev2" not in pipeline.dictionary.sources
    assert pipeline.settings.rule.decide(pipeline.dictionary.lookup("adenocarcinoma"))[0] == "8140/3"
    english = TermDictionary.bundled("en", edition=Edition.ICDO3)
    assert english.lookup("adenocarcinoma").codes[0][0] == "8140/3"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("adenocarcinoma ductal de mama izquierda poco diferenciado", "8500/33"),
        ("implantes peritoneales de carcinoma urotelial", "8120/6"),
        ("sarcoma pleomórfico retroperitoneal de alto grado", "8802/34"),  # high grade: 4
        ("tumor Phyllodes mamario de bajo grado", "9020/11"),  # low grade: 1, and a /1 histology stays /1
        ("melanocitoma cerebeloso de grado intermedio", "8726/02"),
        ("adenocarcinoma de próstata con Gleason 4+4", "8140/33"),  # Gleason 8: poorly differentiated
        ("carcinoma renal de células claras derecho, grado nuclear de Fuhrman 3", "8310/33"),
        ("adenocarcinoma de colon derecho pT4bN2aM1a", "8140/6"),  # an M1 stage: spread
        ("carcinoma epidermoide de laringe estadio IV", "8070/6"),
        ("carcinoma ductal de mama izquierda in situ", "8500/2"),
        ("tumor Phyllodes mamario maligno", "9020/3"),
    ],
)
def test_unknown_mentions_are_composed_from_histology_behaviour_and_grade(
    pipeline: Pipeline, text: str, code: str
) -> None:
    assert pipeline.dictionary.lookup(text) is None
    assignment = pipeline.linker.link(Mention((Span(0, len(text)),), text))
    assert assignment.code == code and assignment.candidates[0].source == "composed"
    assert pipeline.catalog.is_valid(assignment.code)


def test_a_spread_without_a_named_histology_is_an_unspecified_metastatic_neoplasm(pipeline: Pipeline) -> None:
    composed = pipeline.linker.composer.compose("implantes en la superficie del bazo izquierdo")
    assert composed is not None and composed.code == "8000/6" and not composed.modified


def test_detection_links_tumour_mentions_longest_first(pipeline: Pipeline) -> None:
    text = "Biopsia: carcinoma ductal infiltrante de mama. Se descartan metástasis."
    result = pipeline.code(Document("d", text, "es"))
    found = {a.mention.text: a.code for a in result.assignments}
    assert found["carcinoma ductal infiltrante"] == "8500/3"
    assert "carcinoma" not in found  # not reported again inside the longer mention


# -- CANTEMIST as gold ----------------------------------------------------------------------------


def _split(name: str) -> Path:
    folder = CANTEMIST / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not available")
    return folder


def test_brat_gold_reads_icdo3_codes_only_for_that_edition() -> None:
    folder = _split("dev2")
    ann = sorted(folder.glob("*.ann"))[0]
    icdo = load_brat(ann, "es", Edition.ICDO3)[0]
    notes = [line.split("\t")[2] for line in ann.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    assert [m.code for m in icdo.mentions] == notes
    assert not load_brat(ann, "es")[0].mentions  # an ICD-10 evaluation sees none


def test_eval_on_cantemist_prints_coding_map_and_writes_todays_keys(user_dirs: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    done = subprocess.run(
        [sys.executable, "-m", "engine", "eval", str(_split("dev2")), "--lang", "es", "--edition", "icdo3",
         "--mentions", "detect", "--dictionary-exclude", "cantemist-dev2", "--limit", "8", "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    scores = json.loads(out.read_text())
    assert set(scores) == {"mentions", "documents", "n_documents", "n_mentions", "seconds", "candidate_recall",
                           "codiesp_x", "codiesp_d_map"}  # the keys of every eval
    assert scores["n_documents"] == 8 and scores["n_mentions"] > 0
    assert scores["mentions"]["full"]["f1"] > 0.5 and scores["documents"]["full"]["f1"] > 0.6
    assert "documents MAP" in done.stdout and "non-terminal codes assigned: 0 " in done.stdout


# -- tumour export --------------------------------------------------------------------------------


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_tumour_rows_pair_overlapping_mentions_and_mark_every_gap(tmp_path: Path) -> None:
    text = "Adenocarcinoma de pulmón derecho. Metástasis hepáticas. Linfoma folicular. Hipertensión arterial."
    document = Document("caso", text, "es")
    icd10 = Pipeline.bundled("es").code(document)
    icdo = Pipeline.bundled("es", Edition.ICDO3).code(document)
    both = DocumentResult(document, icd10.assignments + icdo.assignments)
    summary = write_csv(tmp_path / "t.csv", [both], ExportOptions(ExportPreset.TUMOUR, only_accepted=False))
    rows = _read(tmp_path / "t.csv")
    assert tuple(rows[0]) == TUMOUR_COLUMNS and summary.rows == len(rows)
    lung = next(r for r in rows if r["morphology"] == "8140/3")
    assert lung["icd10_code"].startswith("C34") and lung["topography"] == lung["icd10_code"][:5]
    assert (lung["histology"], lung["behaviour"], lung["gap"]) == ("8140", "3", "")
    assert '"Adenocarcinoma de pulmón' in lung["evidence"]
    for row in rows:
        assert row["icd10_code"] or NO_SITE in row["gap"]  # a morphology alone says so
        assert row["morphology"] or NO_MORPHOLOGY in row["gap"]
        assert not row["icd10_code"].startswith("I")  # hypertension is no tumour
    assert write_csv(tmp_path / "final.csv", [both], ExportOptions(ExportPreset.TUMOUR)).rows == 0  # none accepted


def test_the_tumour_preset_counts_the_tumours_it_leaves_out_not_every_open_code(tmp_path: Path) -> None:
    """It counted every open code (7, a hypertension among them) where unticking "only accepted" adds 4 tumours."""
    text = "Adenocarcinoma de pulmón derecho. Metástasis hepáticas. Linfoma folicular. Hipertensión arterial."
    document = Document("caso", text, "es")
    both = DocumentResult(document, Pipeline.bundled("es").code(document).assignments
                          + Pipeline.bundled("es", Edition.ICDO3).code(document).assignments)
    lung = [i for i, a in enumerate(both.assignments) if a.mention.start == 0]
    reviewed = DocumentResult(document, tuple(a.with_changes(status=ReviewStatus.ACCEPTED) if i in lung else a
                                              for i, a in enumerate(both.assignments)))
    every = write_csv(tmp_path / "all.csv", [reviewed], ExportOptions(ExportPreset.TUMOUR, only_accepted=False))
    accepted = write_csv(tmp_path / "accepted.csv", [reviewed], ExportOptions(ExportPreset.TUMOUR))
    assert accepted.rows == 1 and every.rows > 1
    assert accepted.left_out == every.rows - accepted.rows  # what unticking "only accepted" adds
    assert accepted.describe() == f"1 tumour written; {every.rows - 1} tumours not yet accepted were left out"


def test_a_morphology_pairs_with_the_site_of_its_own_words_not_a_part_of_them() -> None:
    """The ICD-10 pipeline codes "linfoma" (C85.90) inside "linfoma difuso de células grandes B" (C83.30): the
    diffuse large B-cell morphology (9680/3) of the whole words went to the first site in the text, C85.90,
    and the nested site, that tumour again, was a row of its own."""
    text = "Diagnosticado de linfoma difuso de células grandes B en 2015."
    document = Document("ldcgb", text, "es")
    icd10 = Pipeline.bundled("es").code(document).assignments
    icdo = Pipeline.bundled("es", Edition.ICDO3).code(document).assignments
    assert {(a.mention.text, a.code) for a in icd10} >= {("linfoma", "C85.90"),
                                                         ("linfoma difuso de células grandes B", "C83.30")}
    rows = csv_rows([DocumentResult(document, icd10 + icdo)], ExportOptions(ExportPreset.TUMOUR, only_accepted=False))
    assert [(row[2], row[6]) for row in rows] == [("C83.30", "9680/3")]  # one tumour: the nested site is not a row


def test_a_site_around_the_paired_one_is_that_tumour_again_and_other_tumours_keep_their_rows() -> None:
    text = "Adenocarcinoma de pulmón derecho. Cáncer de colon."
    document = Document("d", text, "es")

    def coded(words: str, code: str, edition: Edition) -> Assignment:
        start = text.index(words)
        return Assignment(Mention.from_spans(text, [(start, start + len(words))]), code, edition, "", Stage.DICTIONARY,
                          1.0)

    assignments = (coded("Adenocarcinoma de pulmón derecho", "C34.91", Edition.CM),  # around the paired one
                   coded("Adenocarcinoma de pulmón", "C34.90", Edition.CM),
                   coded("Adenocarcinoma de pulmón", "8140/3", Edition.ICDO3),
                   coded("Cáncer de colon", "C18.9", Edition.CM))
    rows = csv_rows([DocumentResult(document, assignments)], ExportOptions(ExportPreset.TUMOUR, only_accepted=False))
    assert [(row[2], row[6], row[11]) for row in rows] == [("C34.90", "8140/3", ""), ("C18.9", "", NO_MORPHOLOGY)]


def test_code_with_the_tumour_preset_codes_both_classifications(user_dirs: Path, tmp_path: Path) -> None:
    text = sorted(_split("dev2").glob("*.txt"))[0]
    out = tmp_path / "tumours.csv"
    done = subprocess.run(
        [sys.executable, "-m", "engine", "code", str(text), "--lang", "es", "--preset", "tumour", "--all-codes",
         "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = _read(out)
    assert rows and all(row["morphology"] or row["icd10_code"] for row in rows)
    assert any(row["morphology"] and row["icd10_code"] for row in rows)  # a site and its histology, paired
    assert {row["icd10_edition"] for row in rows} <= {"cm", ""}


def test_the_tumour_preset_reads_each_file_once(user_dirs: Path, tmp_path: Path, monkeypatch) -> None:
    """The morphology pass codes the documents the ICD-10 pass read, with the same marked mentions."""
    reads: list[str] = []

    def counted(path: Path, *args, **kwargs) -> Document:  # the real reader, counted
        reads.append(path.name)
        return read_document(path, *args, **kwargs)

    monkeypatch.setattr(languages, "read_document", counted)
    texts = {"lung": "Biopsia: *adenocarcinoma de pulmón* derecho.", "liver": "TC de control: *metástasis hepáticas*."}
    for name, text in texts.items():
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "tumours.csv"
    argv = ["code", *(str(tmp_path / f"{name}.txt") for name in texts), "--lang", "es", "--marked",
            "--preset", "tumour", "--all-codes", "-o", str(out)]
    assert main(argv) == 0
    assert sorted(reads) == ["liver.txt", "lung.txt"]
    rows = {Path(row["path"]).stem: row for row in _read(out)}
    assert rows["lung"]["icd10_code"].startswith("C34") and rows["liver"]["icd10_code"].startswith("C78")
    for name, row in rows.items():  # each marked mention coded in both classifications, paired in one row
        assert is_morphology(row["morphology"]) and NO_MORPHOLOGY not in row["gap"] and NO_SITE not in row["gap"]
        assert row["evidence"].count(texts[name].split("*")[1]) == 2


def test_an_abbreviation_the_report_defines_is_linked_through_its_long_form(pipeline: Pipeline) -> None:
    text = "Paciente con carcinoma hepatocelular (CAHEP) multifocal. Se trata el CAHEP con sorafenib."
    assert defined_abbreviations(text) == {"CAHEP": "carcinoma hepatocelular"}
    start = text.rindex("CAHEP")
    short = Mention((Span(start, start + 5),), "CAHEP")
    assert pipeline.linker.link(short).code is None  # the dictionary does not know it
    coded = pipeline.code(Document("d", text, "es"), [short]).assignments[0]
    assert coded.code == pipeline.linker.link(Mention((Span(13, 36),), "carcinoma hepatocelular")).code == "8170/3"
    assert coded.mention == short and coded.evidence == "CAHEP = carcinoma hepatocelular"


def test_detection_finds_each_use_of_a_short_form_the_report_defines_for_a_tumour(pipeline: Pipeline) -> None:
    text = ("Carcinoma hepatocelular (CAHEP) multifocal y tomografía computarizada (TCX) sin hallazgos. "
            "El CAHEP progresa; nueva TCX en tres meses. CAHEPX no es el mismo.")
    found = {(a.mention.start, a.mention.text): a.code for a in pipeline.code(Document("d", text, "es")).assignments}
    uses = [n for n in range(len(text)) if text.startswith("CAHEP", n) and not text.startswith("CAHEPX", n)]
    assert [found.get((n, "CAHEP")) for n in uses] == ["8170/3", "8170/3"]  # the definition and the later use
    assert not any("TCX" in text or "CAHEPX" in text for _, text in found)  # a short form for no tumour is not one


def test_a_document_with_no_icdo3_dictionary_keeps_its_icd10_codes_and_the_batch_goes_on(
    user_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    texts = {
        "lunge": "Der Patient wurde wegen eines *Bronchialkarzinoms* rechts stationär aufgenommen und mit einer "
                 "Chemotherapie behandelt.",
        "pulmon": "El paciente ingresó por un *adenocarcinoma de pulmón* derecho y recibió quimioterapia.",
    }
    for name, text in texts.items():
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "tumours.csv"
    argv = ["code", *(str(tmp_path / f"{name}.txt") for name in texts), "--marked",
            "--preset", "tumour", "--all-codes", "-o", str(out)]
    assert main(argv) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "[ICD-W103]" in line]
    assert len(warned) == 1 and "lunge.txt" in warned[0] and "'de'" in warned[0]
    rows = {Path(row["path"]).stem: row for row in _read(out)}
    assert rows["lunge"]["language"] == "de" and rows["lunge"]["icd10_code"].startswith("C34")
    assert NO_MORPHOLOGY in rows["lunge"]["gap"] and not rows["lunge"]["morphology"]
    assert is_morphology(rows["pulmon"]["morphology"])  # the Spanish one in the same batch got both
