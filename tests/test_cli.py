"""The command line end to end, as a coder or a CI script would run it."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.records.export import CSV_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_code_the_bundled_samples_prints_a_table() -> None:
    done = run_cli("code", str(SAMPLES / "es"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["document", "spans", "mention", "code", "language", "stage", "score", "title"]
    assert any("alta-neumologia" in line and "I10" in line for line in lines)
    assert any("consulta-urologia" in line and "N28.1" in line for line in lines)


def test_code_writes_a_csv_and_a_bad_file_only_fails_itself(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Antecedentes de hipertensión arterial.", encoding="utf-8-sig")
    (folder / "b.txt").write_bytes("Neumonía basal y diabetes mellitus.".encode("cp1252"))
    (folder / "broken.docx").write_bytes(b"this is not a zip file")
    out = tmp_path / "out.csv"
    status = main(["code", str(folder), str(tmp_path / "missing.txt"), "-o", str(out)])
    captured = capsys.readouterr()
    assert status == 1  # something failed: the exit code says so
    errors = [line for line in captured.err.splitlines() if "ICD-E101" in line]
    assert any("broken.docx" in line for line in errors)
    assert any("missing.txt" in line for line in errors)
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    by_document = {(Path(r["path"]).stem, r["code"]) for r in rows}
    assert len({r["document"] for r in rows}) == len({r["path"] for r in rows})  # one id per file
    assert ("a", "I10") in by_document
    assert any(doc == "b" and code.startswith("J18") for doc, code in by_document)
    for row in rows:
        start, end = map(int, row["spans"].split(";")[0].split())
        source = Path(row["path"]).read_bytes()
        text = source.decode("utf-8-sig") if Path(row["path"]).stem == "a" else source.decode("cp1252")
        assert text[start:end] == row["mention"]


def test_registry_csv_takes_accepted_codes_only_unless_asked_and_says_what_it_left_out(
    tmp_path: Path, capsys
) -> None:
    """A batch run accepts nothing: the registry CSV is empty by default, and the coder is told why."""
    out = tmp_path / "registry.csv"
    assert main(["code", str(SAMPLES / "es"), "-o", str(out), "--preset", "registry"]) == 0
    with out.open(encoding="utf-8", newline="") as stream:
        assert list(csv.DictReader(stream)) == []
    left_out = [line for line in capsys.readouterr().err.splitlines() if "not yet accepted were left out" in line]
    assert left_out and "--all-codes" in left_out[0]
    assert main(["code", str(SAMPLES / "es"), "-o", str(out), "--preset", "registry", "--all-codes"]) == 0
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert int(left_out[0].split("icdlinker: ")[1].split()[0]) == len(rows)  # what was counted is what --all-codes adds
    assert {Path(r["path"]).stem for r in rows} >= {"alta-neumologia", "consulta-urologia"}
    assert "not yet accepted" not in capsys.readouterr().err


def write_codiesp_split(root: Path) -> Path:
    split = root / "mini"
    (split / "text_files").mkdir(parents=True)
    texts = {
        "d1": "Varón con hipertensión arterial y quiste renal.",
        "d2": "Mujer con neumonía. Dolor torácico.",
    }
    for doc_id, text in texts.items():
        (split / "text_files" / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    rows = [
        ("d1", "DIAGNOSTICO", "i10", "hipertensión arterial", "10 31"),
        ("d1", "DIAGNOSTICO", "n28.1", "quiste renal", "34 46"),
        ("d2", "DIAGNOSTICO", "j18.9", "neumonía", "10 18"),
        ("d2", "DIAGNOSTICO", "r07.9", "Dolor torácico", "20 34"),
        ("d2", "PROCEDIMIENTO", "bw03zzz", "Rx", "0 2"),
    ]
    (split / "miniX.tsv").write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    (split / "miniD.tsv").write_text("".join(f"{r[0]}\t{r[2]}\n" for r in rows[:4]), encoding="utf-8")
    return split


@pytest.mark.parametrize("mode", ["gold", "detect"])
def test_eval_writes_exactly_the_documented_json(tmp_path: Path, mode: str) -> None:
    split = write_codiesp_split(tmp_path)
    out = tmp_path / "scores.json"
    done = run_cli("eval", str(split), "--mentions", mode, "--no-llm", "--dictionary-exclude", "dev", "--json", str(out))
    assert done.returncode == 0, done.stderr
    scores = json.loads(out.read_text())
    assert set(scores) == {"mentions", "documents", "codiesp_x", "codiesp_d_map", "n_documents", "n_mentions", "seconds",
                           "candidate_recall"}
    assert set(scores["candidate_recall"]) == {"all", "open"}
    assert set(scores["candidate_recall"]["all"]) == {"@1", "@3", "@5", "@10"}
    assert 0.75 <= scores["candidate_recall"]["all"]["@10"]["category"] <= 1.0  # textbook terms, as below
    assert set(scores["mentions"]) == {"category", "subcategory", "full"}
    assert set(scores["documents"]) == {"category", "full"}
    assert all(set(s) == {"p", "r", "f1"} for s in [*scores["mentions"].values(), *scores["documents"].values()])
    assert (scores["n_documents"], scores["n_mentions"]) == (2, 4)
    assert scores["mentions"]["category"]["f1"] >= 0.75  # these are textbook terms
    assert "mentions  category" in done.stdout


def test_lookup_shows_dictionary_codes_and_candidates() -> None:
    done = run_cli("lookup", "Hipertensión arterial", "--lang", "es")
    assert done.returncode == 0, done.stderr
    assert "unambiguous → I10" in done.stdout
    assert "candidates:" in done.stdout


def test_unknown_corpus_layout_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli("eval", str(tmp_path))
    assert done.returncode == 2
    assert "ICD-E102" in done.stderr and "Traceback" not in done.stderr


def test_code_links_mentions_given_from_outside(tmp_path: Path, capsys) -> None:
    text = "Dolor en la fosa renal derecha. Antecedentes de hipertensión arterial."
    (tmp_path / "d1.txt").write_text(text, encoding="utf-8")
    # A discontinuous CodiEsp span ("Dolor ... renal") and a brat annotation of the same document.
    (tmp_path / "givenX.tsv").write_text("d1\tDIAGNOSTICO\tr10.9\tDolor renal\t0 5;17 22\n", encoding="utf-8")
    start = text.index("hipertensión")
    (tmp_path / "d1.ann").write_text(
        f"T1\tDIAGNOSTICO {start} {start + 21}\thipertensión arterial\n", encoding="utf-8"
    )
    out = tmp_path / "out.csv"
    assert main(["code", str(tmp_path / "d1.txt"), "--mentions-from", str(tmp_path / "givenX.tsv"), "-o", str(out)]) == 0
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert (row["spans"], row["mention"]) == ("0 5;17 22", "Dolor renal")
    assert main(["code", str(tmp_path / "d1.txt"), "--mentions-from", str(tmp_path), "-o", str(out)]) == 0
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert (row["mention"], row["code"]) == ("hipertensión arterial", "I10")


def test_code_links_asterisk_marked_mentions(tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_text("Refiere *cefalea* y *fiebre* desde ayer.", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["code", str(tmp_path / "m.txt"), "--marked", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["spans"], r["mention"]) for r in rows] == [("8 15", "cefalea"), ("18 24", "fiebre")]
    assert {r["code"][:3] for r in rows} == {"R51", "R50"}
