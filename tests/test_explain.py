"""Why a code was chosen, in words, for each way a stage chooses; candidates in the stages' order."""

from __future__ import annotations

from engine.core.codes import Edition
from engine.core.model import Assignment, Candidate, Mention, ReviewStatus, Span, Stage
from engine.linking.explain import explain, source_names

MENTION = Mention((Span(0, 8),), "neumonía")


def candidate(code: str, score: float, source: str) -> Candidate:
    return Candidate(code, Edition.CM, code, score, source)


def proposed(code: str, stage: Stage, score: float, *candidates: Candidate, **extra: object) -> Assignment:
    return Assignment(MENTION, code, Edition.CM, code, stage, score, candidates=candidates, **extra)  # type: ignore[arg-type]


def test_each_stage_says_why_in_words() -> None:
    site = proposed("J18.9", Stage.SITE, 1.0, candidate("J18.9", 1.0, "site"),
                    evidence="coded J18.9 by this site's coders 3 times, last on 1 Dec 2026")
    assert explain(site).why == "learned at this site: coded J18.9 by this site's coders 3 times, last on 1 Dec 2026"
    shown = ["J18.9", "J15.9", "J12.9"]
    llm = proposed("J15.9", Stage.LLM, 1.0, candidate("J18.9", 0.9, "fuzzy:title-es"),
                   provenance={"model": "qwen-1.5b", "candidates_shown": shown, "llm_answer": "J15.9"})
    assert explain(llm).why == "the model qwen-1.5b chose among 3 candidates"
    fuzzy = proposed("J18.9", Stage.FUZZY, 0.84, candidate("J18.9", 0.84, "fuzzy:title-es"))
    assert explain(fuzzy).why == "closest match: similar title, similarity 0.84"
    nothing = Assignment(MENTION, None, Edition.CM, "", None, 0.0, status=ReviewStatus.NEEDS_REVIEW)
    assert explain(nothing).why.startswith("nothing was close enough")
    corrected = proposed("J13", Stage.USER, 1.0, provenance={"proposed": {"code": "J18.9", "stage": "fuzzy"}})
    assert explain(corrected).why == "chosen by the coder (proposed: J18.9)"
    assert source_names("codiesp-train,who-es,cie-es") == "CodiEsp train, WHO titles, cie titles"


def test_candidates_come_in_the_order_the_stages_choose_each_with_its_own_score() -> None:
    mixed = proposed(
        "J18.9", Stage.SITE, 0.8,
        candidate("J12.9", 0.91, "fuzzy:term"), candidate("J15.9", 0.2, "dictionary:codiesp-train"),
        candidate("J18.1", 0.6, "dictionary:codiesp-train"), candidate("J18.9", 0.8, "site"),
        candidate("J13", 0.95, "site-like:neumonía neumocócica"),
    )
    ranked = explain(mixed).candidates
    assert [r.candidate.code for r in ranked] == ["J18.9", "J18.1", "J15.9", "J13", "J12.9"]
    assert [r.chosen for r in ranked] == [True, False, False, False, False]
    assert ranked[1].reason == "dictionary term (CodiEsp train), 60% of its codings"
    assert ranked[3].reason == "like “neumonía neumocócica” learned at this site, similarity 0.95"
    assert ranked[4].reason == "similar dictionary term, similarity 0.91"
