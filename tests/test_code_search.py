"""The code picker's search: relevance, use and synonyms decide the order, not title length."""

from __future__ import annotations

from functools import cache

from dictionaries.codiesp import mentions as codiesp_mentions
from engine.core.codes import Edition
from engine.evaluation.picker import PickerCheck
from engine.terms.catalog import Catalog
from engine.terms.code_search import CodeSearch
from engine.terms.dictionary import TermDictionary
from engine.terms.notes import CodeNotes
from engine.text.normalize import fold


def codes(search: CodeSearch, query: str, limit: int = 100, **kwargs: object) -> list[str]:
    return [hit.code for hit in search.search(query, limit, **kwargs)]  # type: ignore[arg-type]


@cache
def spanish() -> CodeSearch:
    return CodeSearch.cached(Edition.CM, "es")


def test_a_bare_word_puts_the_used_general_code_first_not_the_shortest_title() -> None:
    """"neumonía": P23 "Neumonía congénita" has the shortest title; J18.9 is what CodiEsp coders chose."""
    found = codes(spanish(), "neumonía")
    assert found[0] == "J18.9"
    assert spanish().uses("J18.9") > spanish().uses("P23.9")
    assert found.index("J18.9") < found.index("P23.9")
    german = CodeSearch.cached(Edition.GM, "de")
    vorhof = codes(german, "Vorhofflimmern")
    assert vorhof[0] == "I48.9" and vorhof.index("I48.2") > 0  # the unspecified code, not "permanent"


def test_use_counts_and_the_sites_learned_counts_lift_a_code_among_equally_relevant_ones() -> None:
    """"Neumonía lobar" and "Neumonía viral" cover "neumonía" alike: use decides, the site's too."""
    plain = codes(spanish(), "neumonía")
    assert spanish().uses("J18.1") > spanish().uses("J12.9") and plain.index("J18.1") < plain.index("J12.9")
    lifted = codes(spanish(), "neumonía", learned={"J12.9": 40})
    assert lifted.index("J12.9") < lifted.index("J18.1") and lifted[0] == "J18.9"


def test_dictionary_terms_and_synonyms_find_codes_their_titles_do_not_name() -> None:
    hit = spanish().search("hipertensión endocraneal")[0]
    assert hit.code == "G93.2" and "endocraneal" not in hit.title.lower()
    assert hit.via == "hipertensión endocraneal"  # found by a CodiEsp term, and says which
    titles_only = codes(CodeSearch(Catalog.bundled(Edition.CM), "es"), "hipertensión endocraneal")
    assert titles_only.index("G93.2") > 0  # a title holding "hipertensión" alone: below complete matches


def test_words_no_entry_holds_together_still_find_codes_below_complete_matches() -> None:
    """"neumonía neumoc": no title or term holds both; entries holding one (or a near miss) come."""
    found = spanish().search("neumonía neumoc", 20)
    named = [fold(f"{h.title} {h.via}") for h in found]
    assert len(found) == 20 and all("neumon" in words or "neumoc" in words for words in named), named
    strepto = codes(spanish(), "neumonia strepto")
    assert strepto[0] == "J13"  # every word held: complete matches stay first


def test_codes_typed_come_in_code_order_and_nothing_else_after_them() -> None:
    assert codes(spanish(), "j18")[:2] == ["J18", "J18.0"]
    assert codes(spanish(), "J18.9") == ["J18.9"]


def test_recall_of_the_gold_code_on_codiesp_dev_mentions() -> None:
    """Where the gold code of a CodiEsp dev mention lands when its words are typed, with the dev
    annotations left out of the dictionary (benchmarks/picker_ranking.py measures all 3,431)."""
    pairs = [(m.text, m.code) for m in codiesp_mentions("dev")[::12]]
    catalog = Catalog.bundled(Edition.CM)
    honest = PickerCheck.of(CodeSearch(catalog, "es", TermDictionary.bundled("es", frozenset({"codiesp-dev"}))),
                            pairs, 10)
    titles = PickerCheck.of(CodeSearch(catalog, "es"), pairs, 10)
    print(f"{len(pairs)} dev mentions: recall@1 {titles.recall(1):.3f} -> {honest.recall(1):.3f}, "
          f"recall@10 {titles.recall(10):.3f} -> {honest.recall(10):.3f} (titles only -> with terms)")
    assert honest.recall(1) > titles.recall(1) and honest.recall(10) > titles.recall(10)


def test_notes_of_a_code_include_those_written_above_it() -> None:
    catalog = Catalog.bundled(Edition.CM)
    notes = CodeNotes.bundled(Edition.CM).for_code("J18.9", catalog)
    excludes = {text for note in notes if note.kind == "excludes1" for text in note.texts}
    assert "congenital pneumonia (P23.0)" in excludes  # written on J18, applies to J18.9
    assert {note.written_at for note in notes} >= {"J18", "J00-J99"}
    assert CodeNotes.bundled(Edition.GM).for_code("I48.9", Catalog.bundled(Edition.GM)) == []
