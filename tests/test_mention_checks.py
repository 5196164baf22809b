"""Second looks at linked mentions, on the bundled dictionaries and catalogs of each language:
sides, body sites alone, generic words alone."""

from functools import cache

import pytest

from engine.core.model import Assignment, Document, Mention, ReviewStatus, Span
from engine.linking.mention_checks import NOT_A_DIAGNOSIS
from engine.linking.pipeline import Pipeline
from engine.terms.vocabulary import Side, side_of_words
from engine.text.normalize import term_key


@cache
def pipeline(language: str) -> Pipeline:
    return Pipeline.bundled(language)


def link(language: str, text: str) -> Assignment:
    return pipeline(language).linker.link(Mention((Span(0, len(text)),), text))


def coded_as(language: str, text: str, code: str) -> Assignment:
    """What the checks make of ``code`` given to ``text`` (whatever a stage before chose)."""
    p = pipeline(language)
    given = Assignment(Mention((Span(0, len(text)),), text), code, p.catalog.edition, "", None, 0.9)
    return p.linker.checks.review(given)


@pytest.mark.parametrize(
    ("language", "text", "sides"),
    [
        ("es", "hemianopsia homónima izquierda", [Side.LEFT]),
        ("es", "dolor en ambos miembros inferiores", [Side.BILATERAL]),
        ("es", "pérdida de visión OD", [Side.RIGHT]),
        ("en", "pain in both legs", [Side.BILATERAL]),
        ("en", "right and left kidney", [Side.RIGHT, Side.LEFT]),
        ("de", "Zyste der linken Niere rechtsseitig", [Side.LEFT, Side.RIGHT]),
        ("de", "Ödeme beidseits", [Side.BILATERAL]),
        ("fr", "kyste du rein droit", [Side.RIGHT]),
        ("el", "αριστερός νεφρός", [Side.LEFT]),
        ("es", "neumonía basal", []),
    ],
)
def test_side_words_per_language(language: str, text: str, sides: list[Side]) -> None:
    assert side_of_words(term_key(text).split(), language) == sides


@pytest.mark.parametrize(
    ("language", "text", "given", "expected"),
    [
        ("es", "lagrimeo ojo derecho", "H04.202", "H04.201"),  # the text's side, not the other one
        ("es", "metástasis suprarrenales", "C79.71", "C79.70"),  # no side stated: the unspecified side's
        ("en", "retinal hemorrhage of the left eye", "H35.61", "H35.62"),
        ("en", "unqualified visual loss of the left eye", "H54.61", "H54.62"),  # two sides in the title
        ("en", "epiphora, both sides", "H04.201", "H04.203"),  # a bilateral sibling exists
    ],
)
def test_a_code_naming_another_side_becomes_its_sibling_for_the_text(
    language: str, text: str, given: str, expected: str
) -> None:
    checked = coded_as(language, text, given)
    assert checked.code == expected and checked.status is ReviewStatus.NEEDS_REVIEW
    assert given in checked.provenance["laterality"]
    assert checked.candidates[0].code == expected


@pytest.mark.parametrize(
    ("language", "text", "code"),
    [
        ("es", "lagrimeo ojo derecho", "H04.201"),
        ("en", "pain in right leg", "M79.604"),
        ("es", "neumonía", "J18.9"),
    ],
)
def test_a_code_whose_side_the_text_names_or_that_names_none_is_left_alone(
    language: str, text: str, code: str
) -> None:
    checked = coded_as(language, text, code)
    assert checked.code == code and "laterality" not in checked.provenance


def test_both_sides_without_a_bilateral_code_is_not_a_right_side_code_at_full_score() -> None:
    # ICD-10-CM has "Pain in right leg", "Pain in left leg" and "Pain in leg, unspecified", no bilateral code.
    checked = link("es", "dolor en ambos miembros inferiores")
    if checked.code in ("M79.604", "M79.605"):
        assert checked.status is ReviewStatus.NEEDS_REVIEW and checked.score <= 0.5
        assert "bilateral" in checked.provenance["laterality"]
    for side in ("right", "left"):
        given = coded_as("en", "pain in both legs", "M79.604" if side == "right" else "M79.605")
        assert given.score == 0.45 and given.status is ReviewStatus.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("language", "site", "disorder"),
    [
        ("es", "arteria mesentérica superior", "aneurisma de arteria mesentérica superior"),
        ("es", "hígado", "quiste hepático"),
        ("en", "left kidney", "cyst of left kidney"),
        ("de", "linke Niere", "Zyste der Niere"),
        ("fr", "foie", "abcès du foie"),
    ],
)
def test_a_body_site_alone_is_not_a_diagnosis(language: str, site: str, disorder: str) -> None:
    alone = link(language, site)
    assert alone.code is None and NOT_A_DIAGNOSIS in alone.provenance
    assert NOT_A_DIAGNOSIS not in link(language, disorder).provenance


@pytest.mark.parametrize(
    ("language", "generic", "specific"),
    [
        ("es", "síndrome", ["dolor", "neumonía", "fiebre"]),
        ("de", "Krankheit", ["Pneumonie", "Fieber", "Hypertonie"]),
        ("en", "disease", ["pain", "pneumonia", "fever"]),
        ("fr", "maladie", ["fièvre", "pneumopathie"]),
    ],
)
def test_a_generic_word_spread_over_many_categories_is_not_coded_alone(
    language: str, generic: str, specific: list[str]
) -> None:
    vocabulary = pipeline(language).linker.checks.vocabulary
    assert vocabulary.is_generic(term_key(generic))
    alone = link(language, generic)
    assert alone.code is None and "generic" in alone.provenance[NOT_A_DIAGNOSIS]
    for word in specific:
        assert not vocabulary.is_generic(term_key(word)), word
    assert not vocabulary.is_generic(term_key(f"{generic} de Crohn"))  # only a word alone is generic


def test_a_generic_word_the_annotated_corpus_codes_alone_keeps_its_code_for_review() -> None:
    # CodiEsp's coders give a bare "enfermedad" R69 (129 train annotations): dev F1 keeps it.
    entry = pipeline("es").dictionary.lookup("enfermedad")
    assert entry is not None and entry.annotated
    checked = link("es", "enfermedad")
    assert checked.code == entry.codes[0][0] and checked.status is ReviewStatus.NEEDS_REVIEW
    assert "generic" in checked.provenance


@pytest.mark.parametrize(
    ("language", "text", "absent", "present"),
    [
        ("es", "TAC: arteria mesentérica superior permeable. Neumonía basal derecha.",
         "arteria mesentérica superior", "Neumonía"),
        ("de", "Keine Krankheit der Leber bekannt. Pneumonie links.", "Krankheit", "Pneumonie"),
    ],
)
def test_detection_does_not_report_what_is_not_a_diagnosis(
    language: str, text: str, absent: str, present: str
) -> None:
    found = [a.mention.text for a in pipeline(language).code(Document("d", text, language)).assignments]
    assert absent not in found and any(present in text for text in found)
