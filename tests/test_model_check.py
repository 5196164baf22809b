"""Testing a model on the coder's reviewed documents: real gemma GGUF, real pipeline, real review actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import ReviewError
from engine.core.model import Document, DocumentResult, Mention
from engine.core.progress import CancelToken, Cancelled
from engine.evaluation.model_check import ModelCheck, ModelChecks, check_model, reviewed_gold
from engine.linking.llm.backend import BackendSettings
from engine.linking.pipeline import Pipeline
from engine.records.review import accept, change_code, reject

TEXTS = (
    "Varón con neumonía basal derecha y dolor torácico atípico. Hipertensión arterial.",
    "Mujer con cefalea tensional crónica y lumbalgia mecánica. Diabetes mellitus tipo 2.",
)
PHRASES = (("neumonía basal derecha", "dolor torácico atípico", "Hipertensión arterial"),
           ("cefalea tensional crónica", "lumbalgia mecánica", "Diabetes mellitus tipo 2"))
BACKEND = BackendSettings(n_threads=1, n_ctx=4096)


def _coded(index: int) -> DocumentResult:
    text = TEXTS[index]
    mentions = [Mention.from_spans(text, [(text.index(p), text.index(p) + len(p))]) for p in PHRASES[index]]
    return Pipeline.bundled("es").code(Document(f"d{index}", text, "es"), mentions)


def reviewed_results() -> list[DocumentResult]:
    """Two documents reviewed to the end (one correction, one rejection), one left half-reviewed."""
    catalog = Pipeline.bundled("es").catalog
    first = change_code(accept(accept(_coded(0), 1), 2), 0, "J18.1", catalog)
    second = reject(accept(accept(_coded(1), 0), 2), 1)
    unfinished = accept(_coded(0), 0)
    return [first, second, unfinished]


def test_reviewed_decisions_are_the_gold() -> None:
    results = reviewed_results()
    gold = reviewed_gold(results)
    assert [g.document.id for g in gold] == ["d0", "d1"]  # the half-reviewed document is not gold
    assert gold[0].mentions[0].code == "J18.1"  # the correction, not the machine's proposal
    assert len(gold[1].mentions) == 2  # the rejected mention has no code to measure


def test_check_model_compares_it_with_the_fuzzy_ranking(gemma_gguf: Path, user_dirs: Path) -> None:
    results = reviewed_results()
    check = check_model(str(gemma_gguf), results, backend=BACKEND)
    open_mentions = sum(not a.settled for g in reviewed_gold(results)
                        for a in Pipeline.bundled("es").code(g.document, [m.mention for m in g.mentions]).assignments)
    assert check.model == str(gemma_gguf) and check.documents == 2
    assert check.asked == open_mentions > 0
    assert check.model_right <= check.asked and check.fuzzy_right <= check.either_right <= check.asked
    assert check.seconds_per_document > 0
    assert f"of {check.asked} mentions asked" in check.summary()

    checks = ModelChecks(user_dirs / "checks.json")
    checks.save(check)
    assert ModelChecks(user_dirs / "checks.json").get(check.model) == check


def test_check_model_says_what_is_missing_and_obeys_cancel(gemma_gguf: Path, user_dirs: Path) -> None:
    with pytest.raises(ReviewError, match="no reviewed document"):
        check_model(str(gemma_gguf), [reviewed_results()[2]], backend=BACKEND)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        check_model(str(gemma_gguf), reviewed_results(), token, backend=BACKEND)


def test_a_damaged_results_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "model_checks.json"
    path.write_text('{"m": {"model": "m", "asked": "oops"', encoding="utf-8")
    checks = ModelChecks(path)
    assert checks.all() == {}
    check = ModelCheck("m", "2026-12-01T18:00:00+00:00", 3, 0, 0, 0, 0, 1.5)
    checks.save(check)
    assert checks.get("m") == check and "asked nothing" in check.summary()
