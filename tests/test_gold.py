"""engine.text.annotations on hand-made corpora in every layout, and on the real CodiEsp and CANTEMIST splits."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.core.errors import GoldFormatError
from engine.core.model import Document, Mention, Span
from engine.text.annotations import (
    external_mentions,
    load_brat,
    load_codiesp,
    load_gold,
    load_jsonl,
    parse_asterisk_markup,
)
from engine.text.readers import read_document

DATA = Path("/work/shared/data")
TEXT_1 = "Varón con dolor lumbar y herida abierta en la pared abdominal. Fiebre."
TEXT_2 = "Mujer con cólico renal."


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8", newline="")
    return path


def tsv(*rows: tuple[str, ...]) -> str:
    return "".join("\t".join(row) + "\n" for row in rows)


def gold_error(load: Callable[..., object], *args: object) -> str:
    """The one-line GoldFormatError message ``load(*args)`` raises."""
    with pytest.raises(GoldFormatError) as caught:
        load(*args)
    assert "\n" not in str(caught.value)
    return str(caught.value)


# -- CodiEsp ------------------------------------------------------------------------------------


@pytest.fixture
def codiesp(tmp_path: Path) -> Path:
    split = tmp_path / "dev"
    write(split / "text_files" / "doc1.txt", TEXT_1)
    write(split / "text_files" / "doc2.txt", TEXT_2)
    write(
        split / "devX.tsv",
        tsv(
            ("doc1", "DIAGNOSTICO", "m54.5", "dolor lumbar", "10 22"),
            # discontinuous, listed in reading order of the reference, not by offset
            ("doc1", "DIAGNOSTICO", "s31.40x", "herida pared abdominal", "25 31;46 61"),
            ("doc1", "PROCEDIMIENTO", "bt41zzz", "herida", "25 31"),
            ("doc2", "DIAGNOSTICO", "N23", "cólico renal", "10 22"),
        ),
    )
    write(split / "devD.tsv", tsv(("doc1", "m54.5"), ("doc1", "s31.40x"), ("doc1", "r50.9"), ("doc2", "n23")))
    return split


def test_codiesp_mentions_spans_and_codes(codiesp: Path) -> None:
    documents = load_codiesp(codiesp)
    assert [gold.document.id for gold in documents] == ["doc1", "doc2"]
    first = documents[0]
    assert first.document.text == TEXT_1 and first.document.language == "es"
    assert [gold.code for gold in first.mentions] == ["M54.5", "S31.40X"]  # procedure row skipped
    wound = first.mentions[1].mention
    assert wound.spans == (Span(25, 31), Span(46, 61))
    assert wound.text == "herida pared abdominal"
    assert first.codes == {"M54.5", "S31.40X", "R50.9"}  # from the D file, with its code without mention
    assert documents[1].codes == {"N23"}


def test_codiesp_without_d_file_takes_mention_codes(codiesp: Path) -> None:
    (codiesp / "devD.tsv").unlink()
    assert [gold.codes for gold in load_codiesp(codiesp)] == [{"M54.5", "S31.40X"}, {"N23"}]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (("doc1", "DIAGNOSTICO", "m54.5", "dolor lumbar"), "expected 5 tab-separated fields, found 4"),
        (("doc9", "DIAGNOSTICO", "m54.5", "dolor", "10 22"), "document 'doc9' has no file in text_files/"),
        (("doc2", "DIAGNOSTICO", "n23", "cólico", "10 999"), "beyond text end"),
        (("doc2", "DIAGNOSTICO", "n23", "cólico", "10-22"), "bad span '10-22'"),
        (("doc2", "DIAGNOSTICO", "8000/6", "cólico", "10 22"), "not an ICD-10 code: '8000/6'"),
        (("doc2", "SINTOMA", "n23", "cólico", "10 22"), "neither DIAGNOSTICO nor PROCEDIMIENTO"),
    ],
)
def test_codiesp_malformed_row_names_file_and_line(codiesp: Path, row: tuple[str, ...], problem: str) -> None:
    x_tsv = codiesp / "devX.tsv"
    write(x_tsv, x_tsv.read_text(encoding="utf-8") + "\n" + tsv(row))
    message = gold_error(load_codiesp, codiesp)
    assert f"{x_tsv}, line 6: " in message and problem in message


def test_codiesp_unknown_document_in_d_file(codiesp: Path) -> None:
    write(codiesp / "devD.tsv", tsv(("doc1", "m54.5"), ("ghost", "n23")))
    assert f"{codiesp / 'devD.tsv'}, line 2: document 'ghost'" in gold_error(load_codiesp, codiesp)


def test_codiesp_needs_text_files_and_x_file(tmp_path: Path) -> None:
    assert "needs a text_files/ folder and a *X.tsv file" in gold_error(load_codiesp, tmp_path)


@pytest.mark.parametrize(("split", "documents", "mentions"), [("dev", 250, 3431), ("train", 500, 7209)])
def test_real_codiesp_split(split: str, documents: int, mentions: int) -> None:
    split_dir = DATA / "codiesp" / split
    if not split_dir.is_dir():
        pytest.skip(f"{split_dir} not available")
    gold = load_codiesp(split_dir)
    assert len(gold) == documents
    assert sum(len(document.mentions) for document in gold) == mentions
    # the D file lists exactly the codes of each document's mentions
    assert all(document.codes == {m.code for m in document.mentions} for document in gold)


def test_translated_codiesp_texts_have_the_document_codes_and_no_mentions() -> None:
    """``text_files_en`` beside the split: English texts, D codes, no spans (they index the Spanish)."""
    split_dir = DATA / "codiesp" / "dev"
    if not (split_dir / "text_files_en").is_dir():
        pytest.skip(f"{split_dir / 'text_files_en'} not available")
    spanish, english = load_codiesp(split_dir), load_codiesp(split_dir, "en")
    assert [g.document.id for g in english] == [g.document.id for g in spanish]
    assert all(not g.mentions and g.document.language == "en" for g in english)
    assert [g.codes for g in english] == [g.codes for g in spanish]
    assert english[0].document.text != spanish[0].document.text


# -- brat ---------------------------------------------------------------------------------------

ANN = tsv(
    ("T1", "DIAGNOSIS 10 22", "dolor lumbar"),
    ("#1", "AnnotatorNotes T1", "m54.5"),
    ("T2", "DIAGNOSIS 25 31;46 61", "herida pared abdominal"),
    ("N1", "Reference T2 ICD10:S31.40XA", "Open wound of abdominal wall"),
    ("N2", "Reference T2 UMLS:C0000001", "not an ICD-10 database"),
    ("T3", "MORPHOLOGY 63 69", "Fiebre"),
    ("#2", "AnnotatorNotes T3", "8000/6"),
    ("T4", "DRUG 0 5", "Varón"),
    ("R1", "Causes Arg1:T1 Arg2:T2", ""),
)


@pytest.fixture
def brat(tmp_path: Path) -> Path:
    folder = tmp_path / "brat"
    write(folder / "doc1.txt", TEXT_1)
    write(folder / "doc1.ann", ANN)
    write(folder / "doc2.txt", TEXT_2)
    write(folder / "doc2.ann", tsv(("T1", "DX 10 22", "cólico renal"), ("#1", "AnnotatorNotes T1", "N23")))
    return folder


def test_brat_codes_from_notes_and_references(brat: Path) -> None:
    documents = load_brat(brat, "es")
    assert [gold.document.id for gold in documents] == ["doc1", "doc2"]
    mentions = [(gold.mention.spans, gold.mention.text, gold.code) for gold in documents[0].mentions]
    assert mentions == [
        ((Span(10, 22),), "dolor lumbar", "M54.5"),
        ((Span(25, 31), Span(46, 61)), "herida pared abdominal", "S31.40XA"),
    ]  # T3 (ICD-O code) and T4 (no code) are not ICD-10 gold
    assert documents[0].codes == {"M54.5", "S31.40XA"}
    assert load_brat(brat / "doc2.ann", "es")[0].codes == {"N23"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (("T5", "DX 0 5", "Mujer"), "annotated text 'Mujer' differs from the text at 0 5: 'Varón'"),
        (("T5", "DX 0 500", "Varón"), "beyond text end"),
        (("T5", "DX", "Varón"), "expected 'T<n><TAB>LABEL"),
        (("#3", "AnnotatorNotes T9", "N23"), "refers to unknown annotation T9"),
    ],
)
def test_brat_malformed_line_names_file_and_line(brat: Path, line: tuple[str, ...], problem: str) -> None:
    ann = brat / "doc1.ann"
    write(ann, ANN + tsv(line))
    message = gold_error(load_brat, brat, "es")
    assert f"{ann}, line 10: " in message and problem in message


def test_brat_annotations_need_their_text(brat: Path) -> None:
    (brat / "doc2.txt").unlink()
    assert "no text file doc2.txt beside it" in gold_error(load_brat, brat, "es")


def test_real_cantemist_has_no_icd10_codes() -> None:
    split_dir = DATA / "cantemist" / "dev1"
    if not split_dir.is_dir():
        pytest.skip(f"{split_dir} not available")
    gold = load_brat(split_dir, "es")
    assert len(gold) == 250
    assert all(not document.mentions and not document.codes for document in gold)  # ICD-O 8000/6 etc.


# -- external mentions --------------------------------------------------------------------------


def test_external_mentions_from_codiesp_x_file(codiesp: Path) -> None:
    document = read_document(codiesp / "text_files" / "doc1.txt", "es")
    mentions = external_mentions(codiesp / "devX.tsv", document)
    assert [mention.text for mention in mentions] == ["dolor lumbar", "herida pared abdominal"]


def test_external_mentions_from_brat_keep_every_label(brat: Path) -> None:
    document = read_document(brat / "doc1.txt", "es")
    mentions = external_mentions(brat / "doc1.ann", document)
    texts = [mention.text for mention in mentions]
    assert texts == ["dolor lumbar", "herida pared abdominal", "Fiebre", "Varón"]


def test_external_mentions_must_fit_the_document(codiesp: Path, brat: Path) -> None:
    short = Document("doc1", "Varón.", "es")
    assert "beyond text end" in gold_error(external_mentions, codiesp / "devX.tsv", short)
    assert "expected a CodiEsp *X.tsv file or a brat .ann file" in gold_error(
        external_mentions, brat / "doc1.txt", short
    )


# -- JSONL --------------------------------------------------------------------------------------


def jsonl(*records: dict[str, object]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


GOOD_RECORD = {
    "id": "cardio-1",
    "text": "Paciente con fibrilación\nauricular e HTA.",
    "annotations": [
        {"start": 13, "end": 34, "code": "i48.91", "mention": "fibrilación auricular"},
        {"start": 37, "end": 40, "code": "I10", "mention": "HTA"},
    ],
}


SHIFTED = {"start": 12, "end": 33, "code": "I48", "mention": "fibrilación"}  # one character early


def test_jsonl_documents(tmp_path: Path) -> None:
    empty = {"id": 7, "text": "Sin hallazgos.", "annotations": []}
    path = write(tmp_path / "cardio.jsonl", jsonl(GOOD_RECORD, empty))
    first, second = load_jsonl(path, "es")
    assert first.document == Document("cardio-1", GOOD_RECORD["text"], "es", str(path))
    assert [(gold.mention.text, gold.code) for gold in first.mentions] == [
        ("fibrilación\nauricular", "I48.91"),
        ("HTA", "I10"),
    ]
    assert first.codes == {"I48.91", "I10"}
    assert (second.document.id, second.mentions, second.codes) == ("7", (), frozenset())


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            {**GOOD_RECORD, "annotations": [SHIFTED]},
            "document 'cardio-1', annotation 1: annotated text 'fibrilación' differs from the text at 12 33",
        ),
        (
            {**GOOD_RECORD, "annotations": [{"start": "13", "end": 34, "code": "I48.91", "mention": "x"}]},
            "annotation 1: field 'start' is missing or not an integer",
        ),
        ({"id": "x", "annotations": []}, "field 'text' is missing or not a string"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_jsonl_malformed_record_names_line(tmp_path: Path, record: object, problem: str) -> None:
    path = write(tmp_path / "cardio.jsonl", jsonl(GOOD_RECORD) + "\n" + json.dumps(record) + "\n")
    message = gold_error(load_jsonl, path, "es")
    assert f"{path}, line 3: " in message and problem in message


def test_jsonl_invalid_json_and_duplicate_ids(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.jsonl", '{"id": "a", "text": \n')
    assert f"{broken}, line 1: not valid JSON" in gold_error(load_jsonl, broken, "es")
    twice = write(tmp_path / "twice.jsonl", jsonl(GOOD_RECORD, GOOD_RECORD))
    assert f"{twice}, line 2: document id 'cardio-1' appears twice" in gold_error(load_jsonl, twice, "es")


# -- asterisk markup ----------------------------------------------------------------------------


def test_asterisk_markup_offsets_index_the_cleaned_text() -> None:
    text, mentions = parse_asterisk_markup("Paciente con *neumonía* y *diabetes tipo 2*.\nSin *HTA*.")
    assert text == "Paciente con neumonía y diabetes tipo 2.\nSin HTA."
    assert mentions == [
        Mention((Span(13, 21),), "neumonía"),
        Mention((Span(24, 39),), "diabetes tipo 2"),
        Mention((Span(45, 48),), "HTA"),
    ]
    assert all(text[m.start : m.end] == m.text for m in mentions)
    assert parse_asterisk_markup("Sin marcas.") == ("Sin marcas.", [])


@pytest.mark.parametrize(
    ("marked", "where"),
    [
        ("Paciente con *neumonía y tos.", "line 1, column 14"),
        ("*tos* y\n*fiebre", "line 2, column 1"),
        ("Línea *uno\ny dos* fin *tres*", "line 1, column 7"),  # pairs across a line break
        ("Texto **negrita**", "line 1, column 7"),  # empty mark
    ],
)
def test_unbalanced_asterisks(marked: str, where: str) -> None:
    assert f"unbalanced '*' at {where}" in gold_error(parse_asterisk_markup, marked)


# -- layout detection ---------------------------------------------------------------------------


def test_load_gold_detects_each_layout(codiesp: Path, brat: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "cardio.jsonl", jsonl(GOOD_RECORD))
    assert [gold.document.id for gold in load_gold(codiesp, "es")] == ["doc1", "doc2"]
    assert [gold.document.id for gold in load_gold(path, "es")] == ["cardio-1"]
    assert [gold.document.id for gold in load_gold(brat, "es")] == ["doc1", "doc2"]
    assert [gold.document.id for gold in load_gold(brat / "doc2.ann", "es")] == ["doc2"]


@pytest.mark.parametrize("name", ["other", "missing", "notes.csv"])
def test_load_gold_unknown_layout_lists_accepted_ones(tmp_path: Path, name: str) -> None:
    if name == "other":
        write(tmp_path / name / "readme.txt", "nothing to see")
    elif name == "notes.csv":
        write(tmp_path / name, "a,b\n")
    message = gold_error(load_gold, tmp_path / name, "es")
    assert str(tmp_path / name) in message
    assert "CodiEsp split folder" in message and ".jsonl file" in message and "brat .ann" in message
