import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.normalize import _fold_with_offsets, fold, fold_char, scan, term_key, tokenize

# Text drawn from the scripts our coders work in, plus the characters that take
# the slow path (decomposed accents, ß, ligatures, final sigma) and separators.
clinical_chars = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:()-/+%\n\t")
    + list("áéíóúñÁÉÍÓÚÑüÜäöÄÖßàèçœæÆﬁﬂ")
    + list("αβγδεσςάέήίόύώΑΣΌΏ")
    + ["a\u0301", "e\u0308", "\u00a0", "İ", "ǅ", "½", "中", "😀", "²", "º"]
)
texts = st.lists(clinical_chars, max_size=60).map("".join)


@given(texts)
@settings(max_examples=400)
def test_every_token_maps_back_to_the_original_characters(text: str) -> None:
    for token in tokenize(text):
        assert 0 <= token.start < token.end <= len(text)
        original = text[token.start : token.end]
        # Folding the original slice gives back exactly the token.
        assert fold(original).strip() == token.text


@given(texts)
@settings(max_examples=400)
def test_fast_and_slow_paths_agree(text: str) -> None:
    slow, _ = _fold_with_offsets(text)
    assert fold(text) == slow
    assert [t.text for t in tokenize(text)] == slow.split()


@given(texts)
def test_tokens_are_ordered_and_disjoint(text: str) -> None:
    tokens = tokenize(text)
    for left, right in zip(tokens, tokens[1:]):
        assert left.end <= right.start


@given(texts)
def test_spans_of_consecutive_parts_cover_their_tokens(text: str) -> None:
    scanned = scan(text)
    tokens = tokenize(text)
    nonempty = [i for i, part in enumerate(scanned.parts) if part]
    for first in range(len(nonempty)):
        for last in range(first, min(first + 3, len(nonempty))):
            start, end = scanned.span(nonempty[first], nonempty[last])
            assert (start, end) == (tokens[first].start, tokens[last].end)


def test_accents_case_and_punctuation_fold_away() -> None:
    assert term_key("Insuficiencia  Renal-Crónica.") == "insuficiencia renal cronica"
    assert term_key("NIÑO") == term_key("nino")
    assert term_key("Lungenentzündung") == "lungenentzundung"


def test_german_sharp_s_expands_but_keeps_offsets() -> None:
    text = "Große Straße"
    [first, second] = tokenize(text)
    assert (first.text, text[first.start : first.end]) == ("grosse", "Große")
    assert (second.text, text[second.start : second.end]) == ("strasse", "Straße")


def test_greek_tonos_and_final_sigma() -> None:
    assert term_key("Πνευμονίας") == term_key("ΠΝΕΥΜΟΝΙΑΣ") == "πνευμονιασ"
    assert fold_char("ς") == "σ"


def test_decomposed_accents_keep_offsets() -> None:
    text = "dolor to\u0301rax"
    token = tokenize(text)[1]
    assert token.text == "torax"
    assert text[token.start : token.end] == "to\u0301rax"
    assert unicodedata.normalize("NFC", text[token.start : token.end]) == "tórax"
