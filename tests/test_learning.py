"""The learning curve (``eval --learn``) on real CodiEsp documents and on tiny brat and JSONL corpora.

Cold start throughout: the bundled Spanish dictionary without CodiEsp train and dev (titles only),
so what the site stage gets right it learned from the documents reviewed before.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.codes import Level, at_level
from engine.core.model import Document, DocumentResult, Mention, Span, Stage
from engine.evaluation.learning import learning_curve
from engine.evaluation.metrics import evaluate
from engine.linking.pipeline import Pipeline
from engine.terms.site_dictionary import Lesson, SiteDictionary, site_key
from engine.text.annotations import GoldDocument, load_gold

ROOT = Path(__file__).resolve().parent.parent
CODIESP_DEV = ROOT.parent / "shared" / "data" / "codiesp" / "dev"
COLD = frozenset({"codiesp-train", "codiesp-dev"})
SLICE = 30  # documents: ~300 gold mentions, a few seconds


@pytest.fixture(scope="module")
def cold() -> Pipeline:
    return Pipeline.bundled("es", exclude=COLD)


@pytest.fixture(scope="module")
def dev_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first documents of the real CodiEsp dev split, as a split of their own."""
    if not CODIESP_DEV.is_dir():
        pytest.skip(f"{CODIESP_DEV} not available")
    split = tmp_path_factory.mktemp("codiesp") / "slice"
    (split / "text_files").mkdir(parents=True)
    texts = sorted((CODIESP_DEV / "text_files").glob("*.txt"))[:SLICE]
    for text in texts:
        (split / "text_files" / text.name).write_bytes(text.read_bytes())
    kept = {text.stem for text in texts}
    for name in ("devX.tsv", "devD.tsv"):
        rows = (CODIESP_DEV / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (split / name).write_text("".join(r for r in rows if r.split("\t", 1)[0] in kept), encoding="utf-8")
    return split


def coded(pipeline: Pipeline, corpus: list[GoldDocument], mode: str, learn: bool) -> list[DocumentResult]:
    results: list[DocumentResult] = []
    if learn:
        learning_curve(pipeline, corpus, mode, on_result=lambda gold, result: results.append(result))
    else:
        evaluate(pipeline, corpus, mode, on_result=lambda gold, result: results.append(result))
    return results


def taught_before(corpus: list[GoldDocument], pipeline: Pipeline) -> list[tuple[int, int, str]]:
    """(document, mention, code) of gold mentions whose term earlier documents taught with one code only."""
    taught: dict[str, set[str]] = {}
    repeated = []
    for d, gold in enumerate(corpus):
        keys = [site_key(m.mention.text, "es") for m in gold.mentions]
        repeated += [(d, i, next(iter(taught[key])))
                     for i, key in enumerate(keys) if len(taught.get(key, ())) == 1]
        for key, mention in zip(keys, gold.mentions):
            node = pipeline.catalog.node(mention.code)
            if node is not None and pipeline.catalog.is_valid(mention.code):  # a code the coder can enter
                taught.setdefault(key, set()).add(node.code)
    return repeated


def test_terms_taught_earlier_are_coded_by_the_site_stage(cold: Pipeline, dev_slice: Path) -> None:
    corpus = load_gold(dev_slice, "es")
    repeated = taught_before(corpus, cold)
    assert len(repeated) >= 30  # a hospital's vocabulary repeats, even over 30 documents
    learned = coded(cold, corpus, "gold", learn=True)
    by_site = [(d, i, code) for d, i, code in repeated if learned[d].assignments[i].stage is Stage.SITE]
    assert by_site == repeated  # every one settled by what the coders taught
    assert all(learned[d].assignments[i].code == code for d, i, code in repeated)
    assert cold.site is None  # the temporary site dictionary left with its folder

    plain = coded(cold, corpus, "gold", learn=False)

    def right(results: list[DocumentResult]) -> int:
        codes = [(results[d].assignments[i].code, code) for d, i, code in repeated]
        return sum(given is not None and at_level(given, Level.CATEGORY) == at_level(code, Level.CATEGORY)
                   for given, code in codes)

    print(f"repeated terms right: {right(learned)} of {len(repeated)} learning, {right(plain)} without")
    assert right(learned) == len(repeated) > right(plain)


def test_learning_scores_beat_a_cold_dictionary(cold: Pipeline, dev_slice: Path) -> None:
    corpus = load_gold(dev_slice, "es")
    plain = evaluate(cold, corpus[10:], "gold")
    learned = learning_curve(cold, corpus, "gold", score_from=10)
    assert learned["n_documents"] == plain["n_documents"] == SLICE - 10
    assert learned["mentions"]["category"]["f1"] > plain["mentions"]["category"]["f1"]
    [point] = learned["learning"]["curve"]  # fewer than 50 documents: one block, all of them
    assert (point["first"], point["last"]) == (1, SLICE) and point["site_share"] > 0
    assert learned["learning"]["actions"]["accept"] + learned["learning"]["actions"]["change_code"] > 100


# -- brat and JSONL: a missed abbreviation is added, a false detection rejected ------------------

TEXTS = {"d1": "Paciente con FA conocida y cefalea.", "d2": "Refiere FA paroxística y cefalea intensa."}


def gold_fa(text: str) -> tuple[int, int]:
    start = text.index("FA")
    return start, start + 2


def write_brat(folder: Path) -> Path:
    folder.mkdir()
    for doc_id, text in TEXTS.items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        start, end = gold_fa(text)
        ann = f"T1\tDIAGNOSTICO {start} {end}\tFA\n#1\tAnnotatorNotes T1\ti48.91\n"
        (folder / f"{doc_id}.ann").write_text(ann, encoding="utf-8")
    return folder


def write_jsonl(path: Path) -> Path:
    lines = []
    for doc_id, text in TEXTS.items():
        start, end = gold_fa(text)
        lines.append(json.dumps({"id": doc_id, "text": text, "annotations": [
            {"start": start, "end": end, "code": "I48.91", "mention": "FA"}]}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("write", [write_brat, write_jsonl], ids=["brat", "jsonl"])
def test_detect_mode_learns_missed_mentions_and_rejections(cold: Pipeline, tmp_path: Path, write) -> None:
    corpus = load_gold(write(tmp_path / ("corpus.jsonl" if write is write_jsonl else "brat")), "es")
    first, second = coded(cold, corpus, "detect", learn=True)
    assert [(a.mention.text, a.stage) for a in first.assignments] == [("cefalea", Stage.DICTIONARY)]
    # The coder added "FA" and rejected "cefalea" (not annotated here): both were learned.
    assert [(a.mention.text, a.code, a.stage) for a in second.assignments] == [("FA", "I48.91", Stage.SITE)]
    plain = coded(cold, corpus, "detect", learn=False)
    assert [a.mention.text for a in plain[1].assignments] == ["cefalea"]


# -- the command line ----------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_eval_learn_writes_todays_keys_and_the_curve(tmp_path: Path) -> None:
    corpus, out = write_jsonl(tmp_path / "corpus.jsonl"), tmp_path / "scores.json"
    done = run_cli("eval", str(corpus), "--learn", "--score-from", "1", "--mentions", "detect", "--no-llm",
                   "--dictionary-exclude", "train", "--dictionary-exclude", "dev", "--json", str(out))
    assert done.returncode == 0, done.stderr
    scores = json.loads(out.read_text())
    assert set(scores) == {"mentions", "documents", "codiesp_x", "codiesp_d_map", "n_documents", "n_mentions",
                           "seconds", "learning", "candidate_recall"}
    assert (scores["n_documents"], scores["n_mentions"]) == (1, 1)  # only d2 is scored
    assert scores["mentions"]["full"] == {"p": 1.0, "r": 1.0, "f1": 1.0}  # FA, learned from d1
    learning = scores["learning"]
    assert set(learning) == {"curve", "block", "score_from", "taught_first", "terms_learned", "actions"}
    [point] = learning["curve"]
    assert set(point) == {"first", "last", "mentions", "documents", "site_share"}
    assert set(point["mentions"]) == {"category", "subcategory", "full"} and set(point["documents"]) == {
        "category", "full"}
    assert learning["actions"] == {"accept": 1, "add_mention": 1, "reject": 1}
    assert "learning curve: F1 per 50 documents" in done.stdout and "1–2" in done.stdout


def test_eval_learn_from_another_split_and_misuse(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl")
    teacher = write_brat(tmp_path / "teacher")
    done = run_cli("eval", str(corpus), "--learn-from", str(teacher), "--learn", "--mentions", "detect",
                   "--dictionary-exclude", "train", "--dictionary-exclude", "dev")
    assert done.returncode == 0, done.stderr
    assert "after 2 documents taught first" in done.stdout
    assert "mentions  full         P 1.000  R 1.000  F1 1.000" in done.stdout  # both FA, learned beforehand
    misuse = run_cli("eval", str(corpus), "--score-from", "1")
    assert misuse.returncode == 2 and "add --learn" in misuse.stderr and "Traceback" not in misuse.stderr


# -- what the site stage does with a term it has not learned, but one like it ---------------------


def test_an_unlearned_term_takes_the_code_of_a_learned_one_like_it(cold: Pipeline) -> None:
    site = SiteDictionary("es", cold.catalog.edition)
    at = "2026-12-01T10:00:00+00:00"
    site.learn([Lesson("es", site.edition, "carcinoma epidermoide de lengua izquierda", "C02.1", 3, at)])
    [(entry, score)] = site.similar("carcinoma epidermoide lengua", limit=1)
    assert entry.display == "carcinoma epidermoide de lengua izquierda" and 0.7 < score < 1
    text = "Biopsia: carcinoma epidermoide lengua."
    start = text.index("carcinoma")
    mention = (Mention((Span(start, len(text) - 1),), text[start:-1]),)
    before = cold.code(Document("d", text, "es"), mention).assignments[0]
    cold.site = site
    try:
        [after] = cold.code(Document("d", text, "es"), mention).assignments
    finally:
        cold.site = None
    assert before.code != "C02.1"
    assert (after.code, after.stage) == ("C02.1", Stage.FUZZY)  # a guess from a similar term: for review
    assert after.evidence.startswith("like “carcinoma epidermoide de lengua izquierda”, coded C02.1")
    # what similar() remembers goes the moment something is taught
    site.learn([Lesson("es", site.edition, "carcinoma epidermoide lengua", "C02.9", 1, at)])
    assert site.similar("carcinoma epidermoide lengua", limit=1)[0][0].display == "carcinoma epidermoide lengua"
