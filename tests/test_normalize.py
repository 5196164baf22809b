import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.text import normalize
from engine.text.normalize import fold, fold_char, scan, term_key, tokenize

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
def test_parts_are_the_folded_text_split_on_spaces(text: str) -> None:
    folded = "".join(fold_char(char) for char in text)
    assert fold(text) == folded
    assert scan(text).parts == folded.split(" ")
    assert [t.text for t in tokenize(text)] == folded.split()


@given(st.lists(texts, min_size=2, max_size=6))
@settings(max_examples=60, deadline=None)
def test_a_text_scanned_in_chunks_gives_the_same_tokens(pieces: list[str]) -> None:
    # Long enough that the scan cuts it into several chunks (at separators chosen by the scanner).
    text = "\n".join(piece * (normalize._CHUNK // 40 + 1) for piece in pieces)
    scanned = scan(text)
    assert scanned.parts == "".join(map(fold_char, text)).split(" ")
    for token in scanned.tokens()[::997]:
        assert fold(text[token.start : token.end]) == token.text
        assert token.start == 0 or fold_char(text[token.start - 1]) == " "
        assert token.end == len(text) or fold_char(text[token.end]) == " "


def test_checkpoint_is_called_between_chunks_and_can_stop_the_scan() -> None:
    calls = []
    text = "neumonía basal " * (3 * normalize._CHUNK // 15)

    def stop_at_second() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise InterruptedError

    with pytest.raises(InterruptedError):
        scan(text, stop_at_second)
    assert len(calls) == 2


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
