"""The LLM stage: settle the mentions the dictionary could not, one prompt per document.

An unambiguous dictionary result stands, and so does a fuzzy ranking whose top
candidate leads by ``skip_margin`` (``engine.linking.margin``).  Every other
mention is offered to the model with its candidates and its local context;
the schema only admits those codes or "none", and
every answer is checked again here (a schema that fails to compile would let
anything through) and against the catalog.  A mention answered "none", or not
answered validly, keeps its best fuzzy candidate, marked for review.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.core.model import Assignment, Document, ReviewStatus, Stage
from engine.core.progress import Progress
from engine.linking.margin import fuzzy_margin, is_decisive
from engine.linking.llm.prompt import (
    NONE,
    PROMPT_VERSION,
    PromptItem,
    PromptTemplate,
    build_messages,
    build_schema,
)
from engine.terms.catalog import Catalog

__all__ = ["LLMLinker", "LLMStats", "LinkProgress", "ModelIdentity"]


class GenerationLike(Protocol):
    text: str
    parsed: Any
    prompt_tokens: int
    evaluated_prompt_tokens: int
    completion_tokens: int
    seconds: float
    llama_seconds: float


class Generate(Protocol):
    """A model call as ``open_llm_stage`` makes it: messages, schema, max tokens, cancel, streaming."""

    def __call__(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        cancel: Progress | None,
        on_text: Callable[[str], None] | None,
        on_prompt: Callable[[int, int], None] | None = None,
    ) -> GenerationLike: ...

# One finished "mN": "CODE" pair of the streamed answer (codes and "none" never hold quotes).
_PAIR = re.compile(r'"(m\d+)"\s*:\s*"([^"\\]*)"')


@dataclass(frozen=True, slots=True)
class LinkProgress:
    """How far the model is through one document, for the status bar."""

    decided: int
    open: int
    completion_tokens: int
    prompt_read: int = 0  # while the model reads a prompt: tokens read so far, of prompt_total
    prompt_total: int = 0

    @property
    def reading(self) -> bool:
        return self.prompt_read < self.prompt_total


OnUpdate = Callable[[tuple[Assignment, ...], LinkProgress], None]


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What provenance records about the model that answered."""

    name: str
    sha256: str


@dataclass(slots=True)
class LLMStats:
    """Counters for one run, for the evaluation report and the benchmark."""

    calls: int = 0
    mentions: int = 0
    answered: int = 0  # a candidate code chosen
    none: int = 0
    invalid: int = 0  # answers outside the mention's candidates or the catalog
    skipped: int = 0  # open mentions not asked: their fuzzy ranking was decisive
    prompt_tokens: int = 0
    evaluated_prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    llama_seconds: float = 0.0

    def add(self, generation: GenerationLike) -> None:
        self.calls += 1
        self.prompt_tokens += generation.prompt_tokens
        self.evaluated_prompt_tokens += generation.evaluated_prompt_tokens
        self.completion_tokens += generation.completion_tokens
        self.seconds += generation.seconds
        self.llama_seconds += generation.llama_seconds


@dataclass(slots=True)
class LLMLinker:
    generate: Generate
    catalog: Catalog
    language: str
    model: ModelIdentity
    # 4: with the local-context prompt, 4 candidates keep a CodiEsp dev document under 600 evaluated
    # prompt tokens (5: 660, 10: 1,100; benchmarks/llm_tokens.py); candidate recall at category
    # level on dev is 0.691 @3, 0.734 @5, 0.790 @10, far above what the models reach.
    candidates_per_mention: int = 4
    mentions_per_call: int = 24
    # Also offer up to this many more specific codes under each candidate (J18 → J18.0 … J18.9),
    # so the model can be more specific than the dictionary; 0 offers the candidates only.
    child_codes: int = 0
    # A mention whose fuzzy top candidate leads the second by this much keeps it unasked (> 1: ask all).
    skip_margin: float = 1.01
    stats: LLMStats = field(default_factory=LLMStats)

    def link(
        self,
        document: Document,
        assignments: Sequence[Assignment],
        progress: Progress | None = None,
        on_update: OnUpdate | None = None,
    ) -> tuple[Assignment, ...]:
        """The assignments with every unsettled mention decided by the model.

        ``on_update`` receives the assignments each time one more mention is
        decided, as the answer streams in, so a window can fill in mention by mention.
        """
        template = PromptTemplate.bundled(self.language, self.catalog.edition)
        result = list(assignments)
        open_items = []
        for index, assignment in enumerate(assignments):
            codes = self._codes(assignment)
            if not codes or assignment.settled:
                continue
            if is_decisive(assignment, self.skip_margin):
                self.stats.skipped += 1
                margin = round(fuzzy_margin(assignment), 3)
                provenance = {**assignment.provenance, "llm_skipped_margin": margin}
                result[index] = assignment.with_changes(provenance=provenance)
                continue
            open_items.append((index, assignment.mention, codes))
        open_items.sort(key=lambda item: item[1].start)  # ids follow the text, as the prompt shows it
        decided_total = 0
        for start in range(0, len(open_items), self.mentions_per_call):
            batch = open_items[start : start + self.mentions_per_call]
            # Ids restart at m1 in every call so every prompt reads the same way.
            items = [PromptItem(f"m{n}", mention, codes) for n, (_, mention, codes) in enumerate(batch, start=1)]
            by_key = {item.key: (index, item) for (index, _, _), item in zip(batch, items)}
            decided: set[str] = set()
            tokens = 0

            def decide(key: str, answer: Any, raw: str) -> None:
                nonlocal decided_total
                index, item = by_key[key]
                decided.add(key)
                decided_total += 1
                result[index] = self._decide(result[index], item, answer, raw)
                if on_update is not None:
                    on_update(tuple(result), LinkProgress(decided_total, len(open_items), tokens))

            def on_text(text: str) -> None:
                nonlocal tokens
                tokens += 1
                for key, answer in _PAIR.findall(text):
                    if key in by_key and key not in decided:
                        decide(key, answer, text)

            def on_prompt(read: int, total: int) -> None:
                if on_update is not None and read < total:  # once read, the answer's updates follow
                    on_update(tuple(result), LinkProgress(decided_total, len(open_items), 0, read, total))

            messages = build_messages(template, self.catalog, document, items)
            generation = self.generate(
                messages, build_schema(items), 16 * len(items) + 32, progress,
                on_text if on_update else None, on_prompt=on_prompt if on_update else None,
            )
            self.stats.add(generation)
            answers = generation.parsed if isinstance(generation.parsed, dict) else {}
            for item in items:
                if item.key not in decided:
                    decide(item.key, answers.get(item.key), generation.text)
        return tuple(result)

    def _codes(self, assignment: Assignment) -> tuple[str, ...]:
        valid = [c.code for c in assignment.candidates if self.catalog.is_valid(c.code)]
        codes = tuple(dict.fromkeys(valid))[: self.candidates_per_mention]
        if not self.child_codes:
            return codes
        expanded: dict[str, None] = {}
        for code in codes:  # each candidate followed by its children, so the prompt reads as a tree
            children = [c for c in self.catalog.children(code) if self.catalog.is_valid(c)]
            expanded.update(dict.fromkeys([code, *children[: self.child_codes]]))
        return tuple(expanded)

    def _decide(self, assignment: Assignment, item: PromptItem, answer: Any, raw_output: str) -> Assignment:
        self.stats.mentions += 1
        provenance = {
            **assignment.provenance,
            "model": self.model.name,
            "model_sha256": self.model.sha256,
            "prompt_version": PROMPT_VERSION,
            "candidates_shown": list(item.codes),
            "llm_answer": answer,
            "raw_output": raw_output,
        }
        if answer in item.codes and self.catalog.is_valid(answer):
            self.stats.answered += 1
            title = self.catalog.title(answer, self.language)
            return assignment.with_changes(
                code=answer, title=title, stage=Stage.LLM, score=1.0, status=ReviewStatus.NEEDS_REVIEW,
                evidence=f"llm:{self.model.name}", provenance=provenance,
            )
        if answer == NONE:
            self.stats.none += 1
        else:
            self.stats.invalid += 1
        best = assignment.candidates[0]
        return assignment.with_changes(
            code=best.code, title=best.title, stage=Stage.FUZZY, score=best.score,
            status=ReviewStatus.NEEDS_REVIEW, provenance=provenance,
        )
