"""The in-context prompt and the output schema for one call: a document's open mentions.

Modelled on the published pipeline's prompt (role, task, JSON output,
specificity, context, one code per mention, uncertainty, exactness), written in
the document's language, with a one-shot example.  The instructions name the
classification coded to (CIE-10-ES, ICD-10-GM, ...); ICD-O-3 morphology asks
for something else (histology, behaviour, grade), so it has instructions and an
example of its own (``resources/prompts/LANG.json``, ``editions``).  The system
text and the example come first and never change for a loaded model and
edition, so llama.cpp evaluates them once and reuses them for every call
(prefix caching).

Each mention comes with its local context, not the whole document: its
sentence cut to a window of words, and the section heading above it when the
document has one (``context.ContextFinder``).  Mentions of one sentence share
its context, shown once.  A CPU pays for every prompt token it reads, and the
whole document cost a 1.5B model 1,954 evaluated tokens per CodiEsp document.

The schema gives every unresolved mention a required key whose value must be
one of that mention's candidate codes or "none": one answer per mention, no
invented codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.core.codes import Edition
from engine.core.errors import EngineError
from engine.core.model import Document, Mention
from engine.core.resources import resources_dir
from engine.linking.llm.context import ContextFinder, merge_ranges
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS

__all__ = ["NONE", "PROMPT_VERSION", "PromptItem", "PromptTemplate", "build_messages", "build_schema"]

# 2: local context per mention instead of the whole document; 3: the edition's classification named,
# ICD-O-3 morphology with its own instructions and example (the text is fixed by version, language, edition);
# 4: the example coded to another edition shows only that edition's codes
PROMPT_VERSION = "icdlinker-prompt-4"
NONE = "none"
_TITLE_WORDS = 10  # with WINDOW_WORDS 10: 600 evaluated prompt tokens per CodiEsp dev document 1–20 (benchmarks/llm_tokens.py)


@dataclass(frozen=True, slots=True)
class PromptItem:
    """One mention to settle: its id in the prompt, and the codes it may take."""

    key: str
    mention: Mention
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    language: str
    edition: Edition
    system: str
    labels: dict[str, str]
    example: dict[str, Any]

    @staticmethod
    @cache
    def bundled(language: str, edition: Edition | None = None) -> PromptTemplate:
        """The language's prompt for ``edition`` (default: the language's ICD-10 edition).

        ``{classification}`` in the instructions becomes the edition's name in the language;
        an edition listed under ``editions`` (ICD-O-3) brings its own instructions and example.
        """
        if edition is None and language not in DEFAULT_EDITIONS:
            raise EngineError(f"no prompt for language {language!r}",
                              hint=f"Choose one of: {', '.join(DEFAULT_EDITIONS)}.")
        edition = Edition(edition or DEFAULT_EDITIONS[language])
        path = resources_dir() / "prompts" / f"{language}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            name = data["classifications"][edition.value]
            data |= data.get("editions", {}).get(edition.value, {})
            system = data["system"].replace("{classification}", name)
            return PromptTemplate(data["language"], edition, system, data["labels"], data["example"])
        except (OSError, ValueError, KeyError) as error:
            raise EngineError(
                f"no usable {edition.label} prompt for language {language!r}: {path} ({error!r})"
            ) from error


def build_messages(
    template: PromptTemplate, catalog: Catalog, document: Document, items: list[PromptItem]
) -> list[dict[str, str]]:
    """Chat messages: system, the worked example (user + assistant), then this document.

    The example is written in the language's own edition; coded to another one (Spanish text to
    ICD-10-GM), it shows only the codes that edition has, and leaves out a mention whose answer it lacks
    (CIE-10-ES's I67.89 is no GM code), so the model never sees a code it may not give."""
    example_items, example_answer = [], {}
    text = template.example["text"]
    for given in template.example["mentions"]:
        if not catalog.is_valid(given["answer"]):
            continue
        start = text.index(given["text"])
        mention = Mention.from_spans(text, [(start, start + len(given["text"]))])
        key = f"m{len(example_items) + 1}"
        example_items.append(PromptItem(key, mention, tuple(c for c in given["candidates"] if catalog.is_valid(c))))
        example_answer[key] = given["answer"]
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
    """Each group of mentions sharing a sentence: heading (when it changes), context, then each mention."""
    labels = template.labels
    lines = [f"{labels['mentions']}:"]
    heading = ""
    for group_heading, context, group in _groups(text, items):
        if group_heading and group_heading != heading:
            lines.append(f"[{labels['section']}: {group_heading}]")
        heading = group_heading or heading
        lines.append(f"{labels['context']}: «{context}»")
        for item in group:
            lines.append(f'{item.key}: "{item.mention.text}"')
            lines += [f"- {code}: {_title(catalog, code, template.language)}" for code in item.codes]
    lines += ["", f"{labels['answer']}:"]
    return "\n".join(lines)


def _groups(text: str, items: list[PromptItem]) -> list[tuple[str, str, list[PromptItem]]]:
    """(heading, marked context, items) for runs of items whose contexts overlap, in text order."""
    finder = ContextFinder(text)
    runs: list[tuple[tuple[tuple[int, int], ...], str, list[PromptItem]]] = []
    for item in sorted(items, key=lambda i: i.mention.start):
        context = finder.of(item.mention)
        if runs and context.ranges[0][0] < runs[-1][0][-1][1]:
            ranges, heading, group = runs[-1]
            runs[-1] = (merge_ranges([*ranges, *context.ranges]), heading, [*group, item])
        else:
            runs.append((context.ranges, context.heading, [item]))
    return [
        (heading, " […] ".join(_marked(text, low, high, group) for low, high in ranges), group)
        for ranges, heading, group in runs
    ]


def _marked(text: str, low: int, high: int, items: list[PromptItem]) -> str:
    """``text[low:high]`` with each mention span wrapped in asterisks, on one line."""
    spans = sorted({(s.start, s.end) for item in items for s in item.mention.spans if low <= s.start and s.end <= high})
    pieces, position = [], low
    for start, end in spans:
        if start < position:  # nested or overlapping spans: mark the outer one only
            continue
        pieces += [text[position:start], "*", text[start:end], "*"]
        position = end
    pieces.append(text[position:high])
    return " ".join("".join(pieces).split())


def _title(catalog: Catalog, code: str, language: str) -> str:
    """A code's own title, short: in the language, else its specific English wording (not the
    ancestor-prefixed form the views show), cut to ``_TITLE_WORDS`` words."""
    node = catalog.node(code)
    title = (node.titles.get(language) or node.titles.get("en")) if node is not None else None
    words = (title or catalog.title(code, language)).split()
    return " ".join(words[:_TITLE_WORDS]) + (" …" if len(words) > _TITLE_WORDS else "")
