"""The in-context prompt and the output schema for one document.

Modelled on the published pipeline's prompt (role, task, JSON output,
specificity, context, one code per mention, uncertainty, exactness), written in
the document's language, with a one-shot example.  The system text and the
example come first and never change for a loaded model, so llama.cpp evaluates
them once and reuses them for every document (prefix caching).

The schema gives every unresolved mention a required key whose value must be
one of that mention's candidate codes or "none": one answer per mention, no
invented codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.core.errors import EngineError
from engine.core.model import Document, Mention
from engine.core.resources import resources_dir
from engine.terms.catalog import Catalog

__all__ = ["NONE", "PROMPT_VERSION", "PromptItem", "PromptTemplate", "build_messages", "build_schema"]

PROMPT_VERSION = "icdlinker-prompt-1"
NONE = "none"
_MAX_DOCUMENT_CHARS = 6000  # beyond this, only the text around each mention is shown
_CONTEXT_CHARS = 300


@dataclass(frozen=True, slots=True)
class PromptItem:
    """One mention to settle: its id in the prompt, and the codes it may take."""

    key: str
    mention: Mention
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    language: str
    system: str
    labels: dict[str, str]
    example: dict[str, Any]

    @staticmethod
    @cache
    def bundled(language: str) -> PromptTemplate:
        path = resources_dir() / "prompts" / f"{language}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise EngineError(f"no usable prompt for language {language!r}: {path} ({error})") from error
        return PromptTemplate(data["language"], data["system"], data["labels"], data["example"])


def build_messages(
    template: PromptTemplate, catalog: Catalog, document: Document, items: list[PromptItem]
) -> list[dict[str, str]]:
    """Chat messages: system, the worked example (user + assistant), then this document."""
    example = template.example
    example_items = []
    text = example["text"]
    for index, given in enumerate(example["mentions"], start=1):
        start = text.index(given["text"])
        mention = Mention.from_spans(text, [(start, start + len(given["text"]))])
        example_items.append(PromptItem(f"m{index}", mention, tuple(given["candidates"])))
    example_answer = {f"m{i}": m["answer"] for i, m in enumerate(example["mentions"], start=1)}
    return [
        {"role": "system", "content": template.system},
        {"role": "user", "content": _user_message(template, catalog, text, example_items)},
        {"role": "assistant", "content": json.dumps(example_answer, ensure_ascii=False)},
        {"role": "user", "content": _user_message(template, catalog, document.text, items)},
    ]


def build_schema(items: list[PromptItem]) -> dict[str, Any]:
    """JSON schema: each mention id required, its value one of its codes or "none"."""
    return {
        "type": "object",
        "properties": {item.key: {"enum": [*item.codes, NONE]} for item in items},
        "required": [item.key for item in items],
        "additionalProperties": False,
    }


def _user_message(template: PromptTemplate, catalog: Catalog, text: str, items: list[PromptItem]) -> str:
    labels = template.labels
    lines = [f"{labels['document']}:", _marked_text(text, [item.mention for item in items]), "", f"{labels['mentions']}:"]
    for item in items:
        lines.append(f'{item.key}: "{item.mention.text}"')
        lines += [f"  - {code}: {catalog.title(code, template.language)}" for code in item.codes]
    lines += ["", f"{labels['answer']}:"]
    return "\n".join(lines)


def _marked_text(text: str, mentions: list[Mention]) -> str:
    """The text with each mention span wrapped in asterisks, cut to windows if long."""
    spans = sorted({(s.start, s.end) for m in mentions for s in m.spans})
    pieces, position = [], 0
    for start, end in spans:
        if start < position:  # nested or overlapping spans: mark the outer one only
            continue
        pieces += [text[position:start], "*", text[start:end], "*"]
        position = end
    pieces.append(text[position:])
    marked = "".join(pieces)
    if len(marked) <= _MAX_DOCUMENT_CHARS:
        return marked
    return _windows(marked)


def _windows(marked: str) -> str:
    """Only the text around marked mentions, joined by ellipses, for long documents."""
    ranges: list[list[int]] = []
    index = marked.find("*")
    while index != -1:
        low, high = max(0, index - _CONTEXT_CHARS), min(len(marked), index + _CONTEXT_CHARS)
        if ranges and low <= ranges[-1][1]:
            ranges[-1][1] = high
        else:
            ranges.append([low, high])
        index = marked.find("*", index + 1)
    return " […] ".join(marked[low:high] for low, high in ranges)[: 2 * _MAX_DOCUMENT_CHARS]
