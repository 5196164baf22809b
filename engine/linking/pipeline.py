"""The one entry point that codes documents; the CLI and the GUI both call it.

Results come back document by document, so a window can show each as soon as
it is ready and a batch survives any one bad document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from pathlib import Path

from engine.core.codes import Edition
from engine.core.errors import EngineError
from engine.core.model import Assignment, Document, DocumentResult, Mention, ReviewStatus, Span, Stage
from engine.core.progress import Cancelled, CancelToken, Progress, checkpoint
from engine.linking.candidates import CandidateIndex
from engine.linking.cross_lingual import CrossLingualIndex
from engine.linking.detection import (
    detect_mentions,
    extended,
    joined,
    joined_back,
    with_spans,
    without_repeated_inner,
)
from engine.linking.dictionary_stage import DictionaryLinker, LinkerSettings
from engine.linking.llm.linker import LinkProgress, LLMLinker
from engine.linking.mention_checks import NOT_A_DIAGNOSIS
from engine.linking.morphology import (
    CLAUSE_END,
    STAGE_REACH,
    graded_end,
    is_spread_stage,
    spread_joins,
    staging_spans,
)
from engine.linking.site_stage import SiteLinker
from engine.linking.specificity import SpecificityRule
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DetectionPolicy, TermDictionary
from engine.terms.site_dictionary import SiteDictionary
from engine.text.abbreviations import defined_abbreviations, occurrences
from engine.text.annotations import external_mentions, parse_asterisk_markup
from engine.text.negation import negation_cue
from engine.text.readers import document_id, read_document

__all__ = ["LinkTask", "OnPartial", "Pipeline", "failed_result", "run_tasks"]

# A result that is not final yet: the dictionary's at once, then one more LLM answer each time.
OnPartial = Callable[[DocumentResult, LinkProgress | None], None]

log = logging.getLogger(__name__)
_UNSPECIFIED_NEOPLASM = "8000/"  # ICD-O-3 histology 8000: a neoplasm of no named histology
_MAX_DEFINED = 64  # short forms a report defines that are checked for a tumour: a real one defines a few dozen at most


@dataclass(frozen=True, slots=True)
class LinkTask:
    """A file to read or a document in memory, and where its mentions come from.

    By default mentions are detected.  They can be given directly, read from a
    CodiEsp ``*X.tsv`` or brat ``.ann`` file (``mentions_from``; a folder means
    ``<document id>.ann`` inside it), or marked ``*like this*`` in the text
    itself (``marked``; the asterisks are removed from the document).
    """

    source: Path | Document
    mentions: tuple[Mention, ...] | None = None
    mentions_from: Path | None = None
    marked: bool = False

    def given_mentions(self, document: Document) -> tuple[Document, tuple[Mention, ...] | None]:
        """The document to code (markup removed) and its given mentions, if any."""
        if self.marked:
            text, mentions = parse_asterisk_markup(document.text)
            return replace(document, text=text), tuple(mentions)
        if self.mentions_from is not None:
            path = self.mentions_from
            if path.is_dir():
                path = path / f"{document.id}.ann"
            return document, tuple(external_mentions(path, document))
        return document, self.mentions


class Pipeline:
    """Dictionary detection and linking for one language and edition (the site's learned terms first)."""

    def __init__(
        self,
        dictionary: TermDictionary,
        catalog: Catalog,
        settings: LinkerSettings | None = None,
        llm: LLMLinker | None = None,
        site: SiteDictionary | None = None,
        version: str | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.catalog = catalog
        self.settings = settings or LinkerSettings()
        self.llm = llm
        self.site = site  # what this workstation's coders taught, for this language and edition
        # Every stage's code is made terminal in this version of the edition (None: the catalog's default).
        self.specificity = SpecificityRule(catalog, version, dictionary.language)

    @classmethod
    def bundled(
        cls,
        language: str,
        edition: Edition | None = None,
        *,
        exclude: frozenset[str] = frozenset(),
        policy: DetectionPolicy | None = None,
        settings: LinkerSettings | None = None,
        version: str | None = None,
    ) -> Pipeline:
        """The pipeline on the dictionaries shipped with the app."""
        dictionary = TermDictionary.bundled(language, exclude, policy, edition)
        return cls(dictionary, Catalog.bundled(edition or dictionary.edition), settings, version=version)

    @property
    def language(self) -> str:
        return self.dictionary.language

    @cached_property
    def linker(self) -> DictionaryLinker:
        # The fuzzy indexes build themselves on the first mention that needs them (about a second;
        # the other languages' several seconds, on the first mention its own language misses).
        index = CandidateIndex(self.dictionary, self.catalog)
        other = None
        if self.settings.cross_lingual:  # the dictionary's sources left out are left out of every language's
            other = CrossLingualIndex(self.catalog, self.language, self.dictionary.excluded)
        return DictionaryLinker(self.dictionary, self.catalog, index, self.settings, other)

    def code(
        self,
        document: Document,
        mentions: Sequence[Mention] | None = None,
        progress: Progress | None = None,
        on_partial: OnPartial | None = None,
    ) -> DocumentResult:
        """Detect (unless ``mentions`` are given) and link one document.

        Detected mentions the text seems to negate are flagged for review, not
        dropped: CodiEsp codes negated findings too (on train, 169 of 194
        negated-looking detections were annotated), and so may a registry.
        Raises Cancelled within milliseconds of ``progress`` saying so, even
        in the middle of a long document (scanning, matching, linking).
        """
        other = self.linker.cross_lingual
        indexes = [self.linker.index] if other is None else [self.linker.index, other]  # no len(): it builds
        for index in indexes:
            index.checkpoint = checkpoint(progress)  # also while a fuzzy index is first built
        try:
            return self._code(document, mentions, progress, on_partial)
        finally:
            for index in indexes:
                index.checkpoint = None

    def _code(
        self,
        document: Document,
        mentions: Sequence[Mention] | None,
        progress: Progress | None,
        on_partial: OnPartial | None,
    ) -> DocumentResult:
        check = checkpoint(progress)  # a cancel takes effect inside a long document, not after it
        stage = SiteLinker(self.site, self.catalog, self.linker).link if self.site is not None else self.linker.link
        final = self.specificity.apply
        defined: dict[str, str] | None = None

        def abbreviations() -> dict[str, str]:
            """The short forms the report defines, read once per document when first needed."""
            nonlocal defined
            if defined is None:
                defined = defined_abbreviations(document.text)
            return defined

        def link(mention: Mention) -> Assignment:
            assignment = stage(mention)
            # Only measured on CANTEMIST (CHC, GCTS, ... defined in the report itself); ICD-10 unchanged.
            if assignment.code is None and self.catalog.edition is Edition.ICDO3 and (
                    long := abbreviations().get(mention.text.strip())):
                expanded = stage(Mention(mention.spans, long))
                if expanded.code is not None:
                    assignment = replace(expanded, mention=mention, evidence=f"{mention.text.strip()} = {long}")
            return final(assignment)

        def link_text(text: str) -> Assignment:
            """The decision for words alone: a long form, the mention before a join."""
            return link(Mention((Span(0, len(text)),), text))

        if mentions is not None:
            assignments = []
            for mention in mentions:
                check()
                assignments.append(link(mention))
        else:
            assignments = []
            detected = detect_mentions(document, self.dictionary, check, self.site)
            if self.catalog.edition is Edition.ICDO3:  # ICD-10 detection is unchanged
                detected = self._tumour_mentions(document, detected, abbreviations(), link_text)
            for mention in detected:
                check()
                assignment = link(mention)
                if NOT_A_DIAGNOSIS in assignment.provenance:
                    continue  # a body site or a generic word alone: not a mention to review
                cue = negation_cue(document.text, mention.start, document.language)
                if cue:
                    assignment = assignment.with_changes(
                        status=ReviewStatus.NEEDS_REVIEW, provenance={**assignment.provenance, "negated_by": cue}
                    )
                assignments.append(assignment)
            assignments = without_repeated_inner(assignments)
        if self.llm is None:
            return DocumentResult(document, tuple(assignments))
        if on_partial is None:  # nobody watching: the answer is not parsed as it streams
            return DocumentResult(document, tuple(map(final, self.llm.link(document, assignments, progress))))
        on_partial(DocumentResult(document, tuple(assignments)), None)

        def update(partial: tuple[Assignment, ...], link_progress: LinkProgress) -> None:
            on_partial(DocumentResult(document, tuple(map(final, partial))), link_progress)

        return DocumentResult(document, tuple(map(final, self.llm.link(document, assignments, progress, update))))

    def _tumour_mentions(self, document: Document, detected: list[Mention], defined: dict[str, str],
                         link_text: Callable[[str], Assignment]) -> list[Mention]:
        """The detected mentions as CANTEMIST marks tumours: TNM stages and the uses of a short form the
        report defined for one ("hepatocarcinoma (HCC)" ... "el HCC": the dictionary holds few report-made
        abbreviations) added, spread stages and words joined to their tumour, a grade after it taken in."""
        text = document.text
        shorts = [short for short, long in list(defined.items())[:_MAX_DEFINED]
                  if link_text(long).stage is Stage.DICTIONARY]  # a term, not a guess
        detected = with_spans(document, detected, sorted(staging_spans(text) + occurrences(text, shorts)))
        detected = joined_back(document, detected, is_spread_stage, STAGE_REACH, CLAUSE_END)

        def named(words: str) -> bool:  # a histology of its own, not the unspecified neoplasm 8000
            code = link_text(words).code
            return code is not None and not code.startswith(_UNSPECIFIED_NEOPLASM)

        return extended(document, joined(document, detected, partial(spread_joins, named=named)), graded_end)

    def run(
        self, tasks: Iterable[LinkTask | Path | Document], progress: Progress | None = None
    ) -> Iterator[DocumentResult]:
        """Code each task in turn; a failing one yields a result with ``error`` set.

        Raises Cancelled once ``progress`` says so, between documents or inside one.
        """
        return run_tasks(tasks, self.code_task, progress)

    def code_task(self, task: LinkTask, progress: Progress) -> DocumentResult:
        """One task read (a file in this pipeline's language) and coded; a failure becomes its result."""
        source = task.source
        if isinstance(source, Document):
            document = source
        else:
            document = Document(document_id(source), "", self.language, str(source))
        try:
            if isinstance(source, Path):
                document = read_document(source, self.language)
            document, mentions = task.given_mentions(document)
            return self.code(document, mentions, progress)
        except Cancelled:
            raise
        except Exception as error:  # one bad document never stops a batch
            return failed_result(document, error)


def run_tasks(
    tasks: Iterable[LinkTask | Path | Document],
    code_task: Callable[[LinkTask, Progress], DocumentResult],
    progress: Progress | None = None,
) -> Iterator[DocumentResult]:
    """``code_task`` on each task in turn, with progress between them; raises Cancelled once asked."""
    progress = progress or CancelToken()
    work = [t if isinstance(t, LinkTask) else LinkTask(t) for t in tasks]
    for done, task in enumerate(work):
        if progress.cancelled():
            raise Cancelled()
        progress.update(done, len(work), _name(task.source))
        yield code_task(task, progress)
    progress.update(len(work), len(work), "done")


def failed_result(document: Document, error: Exception) -> DocumentResult:
    """A document that could not be coded: the error becomes its message, and the batch goes on."""
    if isinstance(error, EngineError):
        return DocumentResult(document, error=str(error))
    log.exception("coding %s failed", document.id, exc_info=error)
    return DocumentResult(document, error=f"[ICD-E900] unexpected error: {error!r}")


def _name(source: Path | Document) -> str:
    return source.name if isinstance(source, Path) else source.id
