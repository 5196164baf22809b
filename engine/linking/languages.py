"""A batch in several languages: each document coded in the language it is written in.

A folder from a hospital may mix Spanish letters with English or German ones;
coding all of them with one language's dictionary finds almost nothing in the
others.  Each document's language is detected (as the window does), unless
one is forced, and its pipeline is built the first time a document needs it:
a dictionary takes a second or more and tens of MB to load, so a batch of
Spanish letters never loads German.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from engine.core.errors import LanguageWarning
from engine.core.model import Document, DocumentResult
from engine.core.progress import Progress
from engine.linking.pipeline import LinkTask, Pipeline, failed_result, run_tasks
from engine.text.language import detected_language
from engine.text.readers import document_id, read_document

__all__ = ["LanguagePipelines"]


class LanguagePipelines:
    """One pipeline per language used, built by ``build`` on first use.

    ``forced``: every document is coded in this language (``--lang``); None
    detects each one's, and a text that gives no evidence (a date, a code, a
    word or two) is coded in ``default`` (the default_language setting) with
    an ICD-W102 note saying so.
    """

    def __init__(self, build: Callable[[str], Pipeline], default: str, forced: str | None = None) -> None:
        self._build = build
        self.default = default
        self.forced = forced
        self._pipelines: dict[str, Pipeline] = {}

    def get(self, language: str) -> Pipeline:
        if language not in self._pipelines:
            self._pipelines[language] = self._build(language)
        return self._pipelines[language]

    @property
    def loaded(self) -> dict[str, Pipeline]:
        """The pipelines built so far, by language."""
        return dict(self._pipelines)

    def run(
        self, tasks: Iterable[LinkTask | Path | Document], progress: Progress | None = None
    ) -> Iterator[DocumentResult]:
        """Code each task in its language; a failing one yields a result with ``error`` set."""
        return run_tasks(tasks, self._code_task, progress)

    def _code_task(self, task: LinkTask, progress: Progress) -> DocumentResult:
        source = task.source
        language = self.forced or self.default
        if isinstance(source, Document):
            document = source
        else:
            document = Document(document_id(source), "", language, str(source))
        try:
            if isinstance(source, Path):
                document = read_document(source, language)
            document = self._in_its_language(document)
        except Exception as error:  # one bad document never stops a batch
            return failed_result(document, error)
        # A dictionary or model that cannot load is no document's fault: its error stops the batch.
        return self.get(document.language).code_task(replace(task, source=document), progress)

    def _in_its_language(self, document: Document) -> Document:
        language = self.forced or detected_language(document.text)
        if language is None:
            name = document.source or document.id
            note = LanguageWarning(f"{name}: its language could not be told from its text; "
                                   f"coded as {self.default!r}, the default_language setting")
            return replace(document, language=self.default, warnings=(*document.warnings, str(note)))
        return document if document.language == language else replace(document, language=language)
