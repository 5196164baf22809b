"""Annotated corpora (CodiEsp, brat, JSONL) as gold documents for evaluation and tests.

Every loader stops with a GoldFormatError naming the file and line of anything
malformed, because a silently dropped row would skew every score computed from
the corpus.  Text files are read with :func:`engine.text.readers.read_document`, so
gold offsets index exactly the text the pipeline sees (DocumentReadError if a
text file itself cannot be read).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from engine.core.codes import Edition, canonical_code, normalize_code, normalize_for
from engine.core.errors import GoldFormatError
from engine.core.model import Document, Mention, Span
from engine.text.input_files import is_hidden
from engine.text.readers import read_document

__all__ = [
    "GoldDocument",
    "GoldMention",
    "external_mentions",
    "load_brat",
    "load_codiesp",
    "load_gold",
    "load_jsonl",
    "parse_asterisk_markup",
]

# brat normalisation databases that hold ICD-10 codes: ICD10, ICD-10-CM, CIE10, CIM-10, ...
_ICD10_DATABASE_RE = re.compile(r"^(ICD|CIE|CIM)-?10", re.IGNORECASE)
_ICDO_DATABASE_RE = re.compile(r"^(ICD|CIE|CIM)-?O", re.IGNORECASE)
_LAYOUTS = (
    "a CodiEsp split folder (text_files/ and *X.tsv)",
    "a .jsonl file (one {id, text, annotations} object per line)",
    "a brat .ann file or a folder of .txt + .ann files",
)
_JSON_TYPES = {str: "a string", int: "an integer", list: "a list"}

# Builds the error for one place in one file from a problem description.
_Fail = Callable[[str], GoldFormatError]


@dataclass(frozen=True, slots=True)
class GoldMention:
    """A mention and the code the annotators gave it (always in canonical form)."""

    mention: Mention
    code: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", canonical_code(self.code))


@dataclass(frozen=True, slots=True)
class GoldDocument:
    """A document with its coded mentions and its document-level code set."""

    document: Document
    mentions: tuple[GoldMention, ...]
    codes: frozenset[str]


class _CodiEspRow(NamedTuple):
    fail: _Fail
    doc_id: str
    code: str
    spans: list[tuple[int, int]]


class _BratEntity(NamedTuple):
    mention: Mention
    codes: tuple[str, ...]  # canonical ICD-10 codes; empty when the annotation has none


# -- public loaders -----------------------------------------------------------------------------


def load_gold(path: Path, language: str, edition: Edition | None = None) -> list[GoldDocument]:
    """Load whichever supported layout ``path`` holds; brat codes count when they are ``edition``'s."""
    if path.is_dir() and (path / "text_files").is_dir() and any(path.glob("*X.tsv")):
        return load_codiesp(path, language)
    if path.is_file() and path.suffix.lower() == ".jsonl":
        return load_jsonl(path, language)
    if (path.is_file() and path.suffix.lower() == ".ann") or (path.is_dir() and any(path.glob("*.ann"))):
        return load_brat(path, language, edition)
    problem = "not found" if not path.exists() else "unknown annotation layout"
    raise _fail(path, None, f"{problem}; accepted: {'; '.join(_LAYOUTS)}")


def load_codiesp(split_dir: Path, language: str = "es") -> list[GoldDocument]:
    """A CodiEsp split: diagnosis mentions from ``*X.tsv``, document codes from ``*D.tsv``.

    Spans are kept as given even where the text reference disagrees (a handful
    of CodiEsp offsets are one punctuation character off); procedures are skipped.
    Without a D file, a document's codes are those of its mentions.  For a language other than
    Spanish, a ``text_files_<lang>`` folder (the machine-translated texts beside CodiEsp's)
    is read instead; its documents have codes from ``*D.tsv`` but no mentions, since the
    spans of ``*X.tsv`` are offsets into the Spanish texts: only document-level scores apply.
    """
    text_dir = split_dir / "text_files"
    x_tsv = _single_file(split_dir, "*X.tsv")
    if x_tsv is None or not text_dir.is_dir():
        raise _fail(split_dir, None, "a CodiEsp split needs a text_files/ folder and a *X.tsv file")
    translated = split_dir / f"text_files_{language}"
    if language != "es" and translated.is_dir():
        text_dir = translated
    texts = sorted(path for path in text_dir.glob("*.txt") if not is_hidden(path))
    documents = {path.stem: read_document(path, language) for path in texts}
    mentions: dict[str, list[GoldMention]] = defaultdict(list)
    for row in _codiesp_rows(x_tsv) if text_dir.name == "text_files" else ():
        text = _known_document(documents, row.doc_id, row.fail).text
        mentions[row.doc_id].append(GoldMention(_mention(text, row.spans, row.fail), row.code))
    d_tsv = _single_file(split_dir, "*D.tsv")
    codes = _codiesp_codes(d_tsv, documents) if d_tsv else _mention_codes(mentions)
    return [GoldDocument(doc, tuple(mentions[key]), frozenset(codes[key])) for key, doc in documents.items()]


def load_brat(path: Path, language: str, edition: Edition | None = None) -> list[GoldDocument]:
    """One brat ``.ann`` file, or every ``.ann`` in a folder, each with its ``.txt`` beside it.

    Only annotations carrying a code of ``edition``'s shape count: ICD-10 by default
    (brat corpora often carry other labels, or ICD-O codes such as ``8000/6``), ICD-O-3
    morphology for ``Edition.ICDO3`` (CANTEMIST); a document whose annotations have
    none is still returned, with no mentions.
    """
    if path.is_dir():
        ann_files = sorted(ann for ann in path.glob("*.ann") if not is_hidden(ann))
    elif path.suffix.lower() == ".ann" and path.is_file():
        ann_files = [path]
    else:
        raise _fail(path, None, "expected a brat .ann file or a folder of .txt + .ann files")
    if not ann_files:
        raise _fail(path, None, "no .ann files in this folder")
    return [_brat_document(ann, language, edition) for ann in ann_files]


def load_jsonl(path: Path, language: str) -> list[GoldDocument]:
    """ElCardioCC layout, one object per line: ``{"id", "text", "annotations"}``.

    Each annotation is ``{"start", "end", "code", "mention"}``; the mention must
    be the text at those offsets (ignoring whitespace), else the offsets are wrong.
    """
    documents: dict[str, GoldDocument] = {}
    for number, line in _numbered_lines(path):
        fail = partial(_fail, path, number)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise fail(f"not valid JSON ({error.msg}, column {error.colno})") from None
        gold = _jsonl_document(record, language, str(path), fail)
        if gold.document.id in documents:
            raise fail(f"document id {gold.document.id!r} appears twice")
        documents[gold.document.id] = gold
    return list(documents.values())


def parse_asterisk_markup(text: str) -> tuple[str, list[Mention]]:
    """Strip ``*term*`` marks; mentions get offsets into the cleaned text.

    A mark may not be empty nor cross a line break: either means an asterisk
    lost its partner, and pairing the rest would shift every later mention.
    """
    pieces = text.split("*")
    if len(pieces) % 2 == 0:
        raise GoldFormatError(f"unbalanced '*' at {_line_column(text, text.rfind('*'))}")
    mentions: list[Mention] = []
    cleaned_at = marked_at = 0
    for index, piece in enumerate(pieces):
        if index % 2:
            if not piece.strip() or "\n" in piece:
                raise GoldFormatError(f"unbalanced '*' at {_line_column(text, marked_at - 1)}")
            mentions.append(Mention((Span(cleaned_at, cleaned_at + len(piece)),), piece))
        cleaned_at += len(piece)
        marked_at += len(piece) + 1
    return "".join(pieces), mentions


def external_mentions(path: Path, document: Document) -> list[Mention]:
    """Mentions given from outside for one document, so the pipeline links them instead of detecting.

    ``path`` is a CodiEsp ``*X.tsv`` (rows of this document's id, diagnoses
    only) or a brat ``.ann`` (every text annotation, whatever its label or code).
    A span annotated with several codes is returned once.
    """
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        rows = (row for row in _codiesp_rows(path) if row.doc_id == document.id)
        mentions = [_mention(document.text, row.spans, row.fail) for row in rows]
    elif suffix == ".ann":
        mentions = [entity.mention for entity in _brat_entities(path, document.text)]
    else:
        raise _fail(path, None, "expected a CodiEsp *X.tsv file or a brat .ann file")
    return list(dict.fromkeys(mentions))


# -- shared helpers -----------------------------------------------------------------------------


def _fail(path: Path, line: int | None, problem: str) -> GoldFormatError:
    where = f"{path}, line {line}" if line else str(path)
    return GoldFormatError(f"{where}: {problem}")


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with 1-based numbers; split on newlines only (JSON may hold U+2028)."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise _fail(path, None, f"cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise _fail(path, None, f"not UTF-8 (byte {error.start})") from None
    for number, line in enumerate(content.split("\n"), start=1):
        if line.strip():
            yield number, line.removesuffix("\r")


def _code(raw: str, fail: _Fail) -> str:
    try:
        return normalize_code(raw)
    except ValueError:
        raise fail(f"not an ICD-10 code: {raw!r}") from None


def _parse_spans(value: str, fail: _Fail) -> list[tuple[int, int]]:
    """``start end[;start end]`` (CodiEsp and brat notation)."""
    spans = []
    for piece in value.split(";"):
        bounds = piece.split()
        if len(bounds) != 2 or not all(bound.isdigit() for bound in bounds):
            raise fail(f"bad span {value!r}; expected 'start end[;start end]'")
        spans.append((int(bounds[0]), int(bounds[1])))
    return spans


def _mention(text: str, spans: list[tuple[int, int]], fail: _Fail) -> Mention:
    try:
        return Mention.from_spans(text, spans)
    except ValueError as error:
        raise fail(str(error)) from None


def _check_mention_text(mention: Mention, given: str, fail: _Fail) -> None:
    """The annotated text must be the text at the offsets, whitespace aside."""
    if "".join(mention.text.split()) != "".join(given.split()):
        raise fail(f"annotated text {given!r} differs from the text at {mention.span_text}: {mention.text!r}")


def _line_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


# -- CodiEsp ------------------------------------------------------------------------------------


def _single_file(folder: Path, pattern: str) -> Path | None:
    matches = sorted(folder.glob(pattern))
    if len(matches) > 1:
        raise _fail(folder, None, f"several files match {pattern}: {', '.join(m.name for m in matches)}")
    return matches[0] if matches else None


def _tsv_rows(path: Path, width: int) -> Iterator[tuple[_Fail, list[str]]]:
    for number, line in _numbered_lines(path):
        fail = partial(_fail, path, number)
        fields = line.split("\t")
        if len(fields) != width:
            raise fail(f"expected {width} tab-separated fields, found {len(fields)}")
        yield fail, fields


def _codiesp_rows(x_tsv: Path) -> Iterator[_CodiEspRow]:
    """Diagnosis rows of an X file: docID, DIAGNOSTICO|PROCEDIMIENTO, code, reference, spans."""
    for fail, (doc_id, label, code, _reference, spans) in _tsv_rows(x_tsv, 5):
        if label == "PROCEDIMIENTO":
            continue
        if label != "DIAGNOSTICO":
            raise fail(f"label {label!r} is neither DIAGNOSTICO nor PROCEDIMIENTO")
        yield _CodiEspRow(fail, doc_id, _code(code, fail), _parse_spans(spans, fail))


def _known_document(documents: dict[str, Document], doc_id: str, fail: _Fail) -> Document:
    if doc_id not in documents:
        raise fail(f"document {doc_id!r} has no file in text_files/")
    return documents[doc_id]


def _codiesp_codes(d_tsv: Path, documents: dict[str, Document]) -> dict[str, set[str]]:
    codes: dict[str, set[str]] = defaultdict(set)
    for fail, (doc_id, code) in _tsv_rows(d_tsv, 2):
        _known_document(documents, doc_id, fail)
        codes[doc_id].add(_code(code, fail))
    return codes


def _mention_codes(mentions: dict[str, list[GoldMention]]) -> dict[str, set[str]]:
    return defaultdict(set, {key: {gold.code for gold in golds} for key, golds in mentions.items()})


# -- brat ---------------------------------------------------------------------------------------


def _brat_document(ann: Path, language: str, edition: Edition | None) -> GoldDocument:
    txt = ann.with_suffix(".txt")
    if not txt.is_file():
        raise _fail(ann, None, f"no text file {txt.name} beside it")
    document = read_document(txt, language)
    entities = _brat_entities(ann, document.text, edition)
    mentions = tuple(GoldMention(entity.mention, code) for entity in entities for code in entity.codes)
    return GoldDocument(document, mentions, frozenset(gold.code for gold in mentions))


def _brat_entities(ann: Path, text: str, edition: Edition | None = None) -> list[_BratEntity]:
    """Text annotations (``T``) with the codes of ``edition`` their notes (``#``) or normalisations (``N``) give."""
    mentions: dict[str, Mention] = {}
    links: list[tuple[_Fail, str, str]] = []  # where, target id, code
    for number, line in _numbered_lines(ann):
        fail = partial(_fail, ann, number)
        if line.startswith("T"):
            annotation_id, mention = _brat_textbound(line, text, fail)
            mentions[annotation_id] = mention
        elif line.startswith(("#", "N")) and (link := _brat_code(line, fail, edition)):
            links.append((fail, *link))
    codes: dict[str, list[str]] = defaultdict(list)
    for fail, target, code in links:
        if target.startswith("T") and target not in mentions:
            raise fail(f"refers to unknown annotation {target}")
        codes[target].append(code)
    return [_BratEntity(mention, tuple(dict.fromkeys(codes[key]))) for key, mention in mentions.items()]


def _brat_textbound(line: str, text: str, fail: _Fail) -> tuple[str, Mention]:
    """``T1<TAB>LABEL start end[;start end]<TAB>covered text``."""
    fields = line.split("\t", 2)
    if len(fields) != 3 or " " not in fields[1]:
        raise fail("expected 'T<n><TAB>LABEL start end[;start end]<TAB>text'")
    mention = _mention(text, _parse_spans(fields[1].split(" ", 1)[1], fail), fail)
    _check_mention_text(mention, fields[2], fail)
    return fields[0], mention


def _brat_code(line: str, fail: _Fail, edition: Edition | None) -> tuple[str, str] | None:
    """The (target id, code of ``edition``) a note or normalisation line gives, if it gives one.

    ``#1<TAB>AnnotatorNotes T1<TAB>CODE`` or ``N1<TAB>Reference T1 ICD10:CODE<TAB>title``
    (``ICD-O-3:8140/3`` for ICD-O-3).
    """
    fields = line.split("\t")
    words = fields[1].split() if len(fields) > 1 else []
    if len(words) < 2:
        raise fail("expected '<id><TAB><type> <target> ...'")
    kind, target = words[0], words[1]
    if kind == "AnnotatorNotes" and len(fields) > 2:
        value = fields[2].strip()
    elif kind == "Reference" and len(words) == 3:
        database, _, value = words[2].partition(":")
        databases = _ICDO_DATABASE_RE if edition is Edition.ICDO3 else _ICD10_DATABASE_RE
        if not databases.match(database):
            return None
    else:
        return None
    try:
        return target, normalize_for(value, edition)
    except ValueError:
        return None


# -- JSONL --------------------------------------------------------------------------------------


def _jsonl_document(record: Any, language: str, source: str, fail: _Fail) -> GoldDocument:
    doc_id = str(_field(record, "id", (str, int), fail))
    text = _field(record, "text", str, fail)
    annotations = _field(record, "annotations", list, fail)
    mentions = tuple(
        _jsonl_mention(annotation, text, _prefixed(fail, f"document {doc_id!r}, annotation {index}: "))
        for index, annotation in enumerate(annotations, start=1)
    )
    document = Document(doc_id, text, language, source)
    return GoldDocument(document, mentions, frozenset(gold.code for gold in mentions))


def _jsonl_mention(annotation: Any, text: str, fail: _Fail) -> GoldMention:
    start, end = (_field(annotation, key, int, fail) for key in ("start", "end"))
    mention = _mention(text, [(start, end)], fail)
    _check_mention_text(mention, _field(annotation, "mention", str, fail), fail)
    return GoldMention(mention, _code(_field(annotation, "code", str, fail), fail))


def _field(record: Any, key: str, kind: type | tuple[type, ...], fail: _Fail) -> Any:
    if not isinstance(record, dict):
        raise fail("expected a JSON object")
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise fail(f"field {key!r} is missing or not {' or '.join(_JSON_TYPES[k] for k in kinds)}")
    return value


def _prefixed(fail: _Fail, prefix: str) -> _Fail:
    return lambda problem: fail(prefix + problem)
