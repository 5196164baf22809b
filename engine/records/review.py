"""What a coder does to a document's results: accept, reject, correct, add, delete.

Every operation returns a new DocumentResult (results are immutable), so the
window can keep an undo stack and the session can save any state as it is.
Assignments are addressed by their index in ``result.assignments``, which
stays in text order.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import accumulate
from operator import attrgetter

from engine.core.codes import Edition, canonical_code
from engine.core.errors import ReviewError
from engine.core.model import Assignment, DocumentResult, Mention, ReviewStatus, Span, Stage
from engine.core.progress import give_way
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS
from engine.text.normalize import term_key, tokenize

__all__ = [
    "DONE_STATUSES",
    "accept",
    "accept_stage",
    "add_mention",
    "change_code",
    "choose_candidate",
    "code_everywhere",
    "code_everywhere_in",
    "coded_edition",
    "codes_in",
    "confirm_no_mentions",
    "delete",
    "is_open",
    "is_reviewed",
    "needs_confirmation",
    "occurrences",
    "open_count",
    "pending_elsewhere",
    "pending_occurrences",
    "reject",
    "review_counts",
    "set_status",
]

DONE_STATUSES = frozenset({ReviewStatus.ACCEPTED, ReviewStatus.REJECTED, ReviewStatus.CORRECTED})


def set_status(result: DocumentResult, index: int, status: ReviewStatus) -> DocumentResult:
    return _replace(result, index, _at(result, index).with_changes(status=status))


def accept(result: DocumentResult, index: int) -> DocumentResult:
    """Accept the proposed code; a mention without a code cannot be accepted."""
    if _at(result, index).code is None:
        raise ReviewError("this mention has no code to accept", hint="Choose a code first, or reject the mention.")
    return set_status(result, index, ReviewStatus.ACCEPTED)


def reject(result: DocumentResult, index: int) -> DocumentResult:
    return set_status(result, index, ReviewStatus.REJECTED)


def accept_stage(result: DocumentResult, stage: Stage = Stage.DICTIONARY) -> DocumentResult:
    """Accept every still-open result of one stage (negation-flagged ones stay open)."""
    changed = tuple(
        a.with_changes(status=ReviewStatus.ACCEPTED)
        if a.stage == stage and a.status == ReviewStatus.PENDING and a.code
        else a
        for a in result.assignments
    )
    return DocumentResult(result.document, changed, result.error)


def change_code(result: DocumentResult, index: int, code: str, catalog: Catalog) -> DocumentResult:
    """The coder's correction; what the machine proposed stays in the provenance."""
    code = _checked(code, catalog)
    old = _at(result, index)
    provenance = {**old.provenance, "proposed": {"code": old.code, "stage": old.stage.value if old.stage else None}}
    new = old.with_changes(
        code=code, edition=catalog.edition, title=catalog.title(code, result.document.language),
        stage=Stage.USER, score=1.0, status=ReviewStatus.CORRECTED, provenance=provenance,
    )
    return _replace(result, index, new)


def choose_candidate(result: DocumentResult, index: int, code: str, catalog: Catalog) -> DocumentResult:
    """The coder picked one of the mention's candidates: the proposed code is accepted, another one
    is a correction that records which candidate (with its score and source) it was."""
    old = _at(result, index)
    if code == old.code:
        return accept(result, index)
    candidate = next((c for c in old.candidates if c.code == code), None)
    if candidate is None:
        raise ReviewError(f"{code} is not a candidate of this mention", hint="Use Change code to pick any code.")
    changed = change_code(result, index, code, catalog)
    new = changed.assignments[index]
    chosen = {"code": code, "score": candidate.score, "source": candidate.source}
    return _replace(changed, index, new.with_changes(provenance={**new.provenance, "chosen_candidate": chosen}))


def add_mention(
    result: DocumentResult, spans: Sequence[tuple[int, int]], code: str, catalog: Catalog
) -> DocumentResult:
    """A mention the pipeline missed, marked by the coder (one or more spans)."""
    code = _checked(code, catalog)
    text = result.document.text
    if not spans or any(not 0 <= start < end <= len(text) for start, end in spans):
        raise ReviewError("the selected text is not inside the document", hint="Select the words again.")
    mention = Mention.from_spans(text, [Span(start, end) for start, end in spans])
    if any(a.mention.spans == mention.spans and a.code == code for a in result.assignments):
        raise ReviewError(f"{code} is already assigned to this text")
    added = Assignment(
        mention, code, catalog.edition, catalog.title(code, result.document.language), Stage.USER, 1.0,
        evidence="added by the coder", status=ReviewStatus.ACCEPTED,
    )
    assignments = sorted((*result.assignments, added), key=lambda a: (a.mention.spans, a.code or ""))
    return DocumentResult(result.document, tuple(assignments), result.error)


def occurrences(
    result: DocumentResult, term: str, edition: Edition | None = None
) -> tuple[list[int], list[tuple[int, int]]]:
    """Where ``term`` occurs: the mentions that read the same (case and accents aside), and the places
    in the text outside every mention where its words stand in a row (missed mentions).

    ``edition``: only that classification's mentions count, so an ICD-O-3 correction never
    recodes the ICD-10 mention of the same words, and words inside an ICD-10 mention can still
    be a missed ICD-O-3 one.
    """
    key = term_key(term)
    if not key:
        return [], []
    text = result.document.text
    words = key.split(" ")
    first = words[0]
    if first.isascii() and first not in _ascii_folded(text):
        return [], []  # folding every mention of every open document would take seconds; most lack the word
    counted = [(i, a) for i, a in enumerate(result.assignments) if edition is None or a.edition is edition]
    same = [i for i, a in counted if term_key(a.mention.text) == key]
    tokens = tokenize(text)
    spans = sorted((s.start, s.end) for _, a in counted for s in a.mention.spans)
    starts = [start for start, _ in spans]
    furthest = list(accumulate((end for _, end in spans), max))  # the furthest end of the spans so far
    free = []
    for n in range(len(tokens) - len(words) + 1):
        if tokens[n].text == first and [t.text for t in tokens[n : n + len(words)]] == words:
            start, end = tokens[n].start, tokens[n + len(words) - 1].end
            before = bisect_left(starts, end)  # the spans that start before this place ends
            if not before or furthest[before - 1] <= start:
                free.append((start, end))
    return same, free


def pending_occurrences(
    result: DocumentResult, term: str, code: str, edition: Edition
) -> tuple[list[int], list[tuple[int, int]]]:
    """The occurrences of ``term`` among ``edition``'s mentions that do not have ``code`` accepted yet (what
    ``code_everywhere`` would change), and the places outside every mention where it stands."""
    same, free = occurrences(result, term, edition)
    return [i for i in same if result.assignments[i].code != code or is_open(result.assignments[i])], free


def coded_edition(chosen: Edition | None, result: DocumentResult) -> Edition:
    """The edition the document is coded in: the coder's choice, its results' (not the ICD-O-3 morphology
    coded beside them), else its language's."""
    if chosen is not None:
        return chosen
    coded = next((a.edition for a in result.assignments if a.edition is not Edition.ICDO3), None)
    return coded or DEFAULT_EDITIONS.get(result.document.language, Edition.WHO)


def codes_in(chosen: Edition | None, result: DocumentResult, edition: Edition) -> bool:
    """Whether the document is coded in ``edition``: its own, or ICD-O-3 morphology coded beside it."""
    if coded_edition(chosen, result) is edition:
        return True
    return edition is Edition.ICDO3 and any(a.edition is edition for a in result.assignments)


def code_everywhere(result: DocumentResult, term: str, code: str, catalog: Catalog) -> DocumentResult:
    """Give ``code`` to every occurrence of ``term``: mentions that read the same are corrected (or
    accepted, where they have the code already) and places outside every mention become mentions.
    Each change is the same step as the single decision, so the audit log and the site dictionary
    learn from each one."""
    code = _checked(code, catalog)
    same, free = occurrences(result, term, catalog.edition)
    for index in same:
        assignment = result.assignments[index]
        if assignment.code != code:
            result = change_code(result, index, code, catalog)
        elif assignment.status not in DONE_STATUSES:
            result = set_status(result, index, ReviewStatus.ACCEPTED)
    for span in free:
        result = add_mention(result, [span], code, catalog)
    return result


def pending_elsewhere(
    documents: Iterable[tuple[str, Edition | None, DocumentResult]], language: str, term: str, code: str,
    edition: Edition,
) -> dict[str, int]:
    """How many places ``code_everywhere`` would change in each open document (key, chosen edition, result) of
    ``language`` that codes ``edition``; those with none are left out.  It tokenizes every such document
    (500 oncology reports: a second), so the window runs it off the UI thread."""
    counts = {}
    for key, chosen, result in documents:
        give_way()
        if result.document.language == language and codes_in(chosen, result, edition):
            count = sum(map(len, pending_occurrences(result, term, code, edition)))
            if count:
                counts[key] = count
    return counts


def code_everywhere_in(
    results: Mapping[str, DocumentResult], term: str, code: str, catalog: Catalog
) -> dict[str, DocumentResult]:
    """``code_everywhere`` in each document, by key; the ones it leaves as they were are left out (off the UI
    thread, as ``pending_elsewhere``)."""
    changed = {}
    for key, result in results.items():
        give_way()
        after = code_everywhere(result, term, code, catalog)
        if after is not result:
            changed[key] = after
    return changed


def delete(result: DocumentResult, index: int) -> DocumentResult:
    _at(result, index)
    return DocumentResult(result.document, result.assignments[:index] + result.assignments[index + 1 :], result.error)


def confirm_no_mentions(result: DocumentResult) -> DocumentResult:
    """The coder read a document in which nothing was found and confirms there is nothing to code."""
    if result.assignments:
        raise ReviewError("this document has mentions: review them instead",
                          hint="Only a document in which no mention was found is confirmed as a whole.")
    return replace(result, confirmed_empty=True)


def needs_confirmation(result: DocumentResult) -> bool:
    """No mention was found and the coder has not confirmed it: a finding to check, not a finished review
    (300 CodiEsp documents had 12 such, mentioning "hiperplasia nodular", "neoplasia", PSA 22)."""
    return result.error is None and not result.assignments and not result.confirmed_empty


def is_open(assignment: Assignment) -> bool:
    """Still without a review decision."""
    return assignment.status not in DONE_STATUSES


def is_reviewed(result: DocumentResult) -> bool:
    """Reviewed once every mention has a final status; a document with none once the coder confirmed it."""
    if result.error is not None:
        return False
    if not result.assignments:
        return result.confirmed_empty
    return all(a.status in DONE_STATUSES for a in result.assignments)


def open_count(result: DocumentResult) -> int:
    """Mentions without a final status, counted without a Python step per mention (there can be 100,000)."""
    done = sum(map(DONE_STATUSES.__contains__, map(attrgetter("status"), result.assignments)))
    return len(result.assignments) - done


def review_counts(result: DocumentResult) -> dict[ReviewStatus, int]:
    counts = dict.fromkeys(ReviewStatus, 0)
    for assignment in result.assignments:
        counts[assignment.status] += 1
    return counts


def _ascii_folded(text: str) -> str:
    """Case and accents dropped in C: a fast first test for a folded ASCII word."""
    return unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode("ascii")


def _at(result: DocumentResult, index: int) -> Assignment:
    if not 0 <= index < len(result.assignments):
        raise ReviewError(f"no mention number {index + 1} in {result.document.id}")
    return result.assignments[index]


def _replace(result: DocumentResult, index: int, assignment: Assignment) -> DocumentResult:
    assignments = list(result.assignments)
    assignments[index] = assignment
    return DocumentResult(result.document, tuple(assignments), result.error)


def _checked(code: str, catalog: Catalog) -> str:
    try:
        normal = canonical_code(code)
    except ValueError:
        normal = code
    if not catalog.is_valid(normal):
        raise ReviewError(
            f"{code!r} is not a code of {catalog.name}",
            hint="Pick a code from the list; chapters and blocks cannot be assigned.",
        )
    return catalog.node(normal).code  # type: ignore[union-attr]
