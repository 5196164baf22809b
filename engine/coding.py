"""Code a batch of a session's documents, each in its own language and edition.

This is what the window's background worker runs.  Pipelines (one per
language and edition) and the loaded model are kept between runs, because
loading them takes seconds; results are reported as they arrive, the
dictionary's at once and then one more LLM answer at a time.  With the
``code_morphology`` setting a document is coded with ICD-O-3 morphology too
(dictionary only, as ``code --preset tumour`` does): its assignments, marked by
their edition, join the ICD-10 ones in text order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from heapq import merge
from operator import attrgetter
from pathlib import Path

from engine.core.codes import Edition
from engine.core.model import Assignment, Document, DocumentResult
from engine.core.progress import Cancelled, Progress
from engine.linking.llm.backend import BackendSettings
from engine.linking.llm.linker import LinkProgress, LLMLinker
from engine.linking.llm.session import LLMStage, open_llm_stage, wait_for
from engine.linking.morphology import no_morphology_note
from engine.linking.pipeline import Pipeline, failed_result
from engine.records.settings import AppSettings
from engine.records.site_store import SiteDictionaries
from engine.text.language import detect_language
from engine.text.readers import document_id, read_document

__all__ = ["Coder", "CodingEvent", "CodingRequest"]


@dataclass(frozen=True, slots=True)
class CodingRequest:
    """One document to code: a file or a text, and the coder's language/edition choice if any."""

    key: str
    source: Path | Document
    language: str | None = None  # None: detect it
    edition: Edition | None = None  # None: the language's own edition


@dataclass(frozen=True, slots=True)
class CodingEvent:
    key: str
    result: DocumentResult
    final: bool  # False while the LLM is still answering
    llm: LinkProgress | None = None


class Coder:
    """Pipelines and at most one loaded model, reused across runs; close() frees the model."""

    def __init__(self, settings: AppSettings | None = None, site: SiteDictionaries | None = None) -> None:
        self.settings = settings or AppSettings()
        self.site = site  # the session database's site dictionaries; None: bundled dictionaries only
        self._pipelines: dict[tuple[str, Edition | None], Pipeline] = {}
        self._stage: LLMStage | None = None
        self._freeing: Future[None] | None = None  # the model closed last, until its memory is released
        self._linkers: dict[tuple[str, Edition], LLMLinker] = {}

    def configure(self, settings: AppSettings) -> None:
        """New settings; what they change is rebuilt or reloaded on the next run."""
        if (settings.model, settings.gpu_layers, settings.threads, settings.context_size) != (
            self.settings.model, self.settings.gpu_layers, self.settings.threads, self.settings.context_size
        ):
            self.close()
        if (settings.fuzzy_threshold, settings.nested_mentions, settings.cm_version) != (
            self.settings.fuzzy_threshold, self.settings.nested_mentions, self.settings.cm_version
        ):
            self._pipelines.clear()
        self.settings = settings

    @property
    def model_loaded(self) -> str | None:
        return self._stage.linker.model.name if self._stage else None

    @property
    def stage(self) -> LLMStage | None:
        """The loaded model, which a model test of the same file asks instead of loading it again."""
        return self._stage

    def code(
        self, requests: Sequence[CodingRequest], progress: Progress, on_event: Callable[[CodingEvent], None]
    ) -> None:
        """Code every request in turn; a failing document gets an error result, the batch goes on.

        Raises Cancelled (between documents, and within moments while the model loads, reads or writes).
        """
        total = len(requests)
        for done, request in enumerate(requests):
            name = request.source.name if isinstance(request.source, Path) else request.source.id
            progress.update(done, total, name)
            if progress.cancelled():
                raise Cancelled()
            try:
                result = self._code_one(request, progress, on_event, done, total, name)
            except Cancelled:
                raise
            except Exception as error:  # one bad document never stops a batch
                result = failed_result(self._placeholder(request), error)
            on_event(CodingEvent(request.key, result, final=True))
        progress.update(total, total, "done")

    def close(self) -> None:
        """Free the model without waiting (the window calls this on its UI thread)."""
        if self._stage is not None:
            self._freeing = self._stage.close()
        self._stage = None
        self._linkers.clear()

    def _code_one(
        self,
        request: CodingRequest,
        progress: Progress,
        on_event: Callable[[CodingEvent], None],
        done: int,
        total: int,
        name: str,
    ) -> DocumentResult:
        document = self._read(request)
        pipeline = self._pipeline(document.language, request.edition)
        document, morphology = self._morphology(document, pipeline.catalog.edition, progress)
        pipeline.llm = self._linker(pipeline, progress, done, total) if self.settings.model else None

        def partial(result: DocumentResult, link: LinkProgress | None) -> None:
            if link is not None and link.reading:  # nothing new to show but how far the model has read
                percent = 100 * link.prompt_read // link.prompt_total
                progress.update(done, total, f"{name} · model reading the document, {percent} %")
                return
            if link is not None:
                progress.update(
                    done, total, f"{name} · model {link.decided}/{link.open} mentions · {link.completion_tokens} tokens"
                )
            on_event(CodingEvent(request.key, with_morphology(result, morphology), final=False, llm=link))

        return with_morphology(pipeline.code(document, None, progress, partial), morphology)

    def _morphology(
        self, document: Document, edition: Edition, progress: Progress
    ) -> tuple[Document, tuple[Assignment, ...]]:
        """The ICD-O-3 morphology pass, where the setting asks for it.  Where it cannot run (no
        dictionary for the language) or fails, the document keeps its ICD-10 coding and says why."""
        if not self.settings.code_morphology or edition is Edition.ICDO3:
            return document, ()
        note = no_morphology_note(document)
        if note is None:
            try:
                pipeline = self._pipeline(document.language, Edition.ICDO3)
                pipeline.llm = None  # the model links ICD-10 mentions; morphology is the dictionary's, as in the CLI
                return document, pipeline.code(document, None, progress).assignments
            except Cancelled:
                raise
            except Exception as error:  # the ICD-10 codes are not lost with it
                note = f"ICD-O-3 morphology not coded: {failed_result(document, error).error}"
        return replace(document, warnings=(*document.warnings, note)), ()

    def _read(self, request: CodingRequest) -> Document:
        default = request.language or self.settings.default_language
        if isinstance(request.source, Document):
            document = request.source
        else:
            document = read_document(request.source, default)
        if request.language is None:
            document = replace(document, language=detect_language(document.text, default))
        elif document.language != request.language:
            document = replace(document, language=request.language)
        return document

    def _placeholder(self, request: CodingRequest) -> Document:
        if isinstance(request.source, Document):
            return request.source
        language = request.language or self.settings.default_language
        return Document(document_id(request.source), "", language, str(request.source))

    def _pipeline(self, language: str, edition: Edition | None) -> Pipeline:
        key = (language, edition)
        if key not in self._pipelines:
            self._pipelines[key] = Pipeline.bundled(
                language, edition,
                policy=self.settings.detection_policy(), settings=self.settings.linker_settings(),
                version=self.settings.cm_version,
            )
        pipeline = self._pipelines[key]
        pipeline.site = self.site.get(language, pipeline.catalog.edition) if self.site is not None else None
        return pipeline

    def _linker(self, pipeline: Pipeline, progress: Progress, done: int, total: int) -> LLMLinker:
        key = (pipeline.language, pipeline.catalog.edition)
        if self._stage is None:
            backend = BackendSettings(
                n_gpu_layers=self.settings.gpu_layers_value(),  # type: ignore[arg-type]
                n_threads=self.settings.threads,
                n_ctx=self.settings.context_size,
            )
            if self._freeing is not None:  # the model switched from still holds its memory for a moment,
                progress.update(done, total, "freeing the previous model")  # which the new one's check counts
                wait_for(self._freeing, progress)
                self._freeing = None
            loading = f"loading model {self.settings.model}"
            progress.update(done, total, loading)

            def on_load(fraction: float) -> None:
                progress.update(done, total, f"{loading}, {fraction:.0%}")

            self._stage = open_llm_stage(
                self.settings.model, pipeline.language, pipeline.catalog, backend, cancel=progress, on_load=on_load
            )
            self._linkers[(self._stage.linker.language, self._stage.linker.catalog.edition)] = self._stage.linker
        if key not in self._linkers:
            first = self._stage.linker
            self._linkers[key] = LLMLinker(first.generate, pipeline.catalog, pipeline.language, first.model)
        self._linkers[key].skip_margin = self.settings.llm_skip_margin
        return self._linkers[key]


def with_morphology(result: DocumentResult, morphology: tuple[Assignment, ...]) -> DocumentResult:
    """ICD-10 and ICD-O-3 assignments in one result, by where their mentions start (ICD-10 first on a
    tie): the window and the CLI's tumour preset list them in the same order."""
    if not morphology or result.error:
        return result
    return replace(result, assignments=tuple(merge(result.assignments, morphology, key=attrgetter("mention.start"))))
