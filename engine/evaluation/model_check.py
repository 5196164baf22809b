"""Is a model worth its time here?  Test it on the coder's own reviewed documents.

The coder's decisions are the gold: every accepted or corrected mention of a
reviewed document, with its final code (rejected mentions have none).  The
documents are coded again with their reviewed mentions given, by the bundled
dictionaries (not the site's, which learned these very decisions) and the
model, and ``ModelVersusFuzzy`` says on the mentions the model was asked
about whether its answer or the fuzzy top candidate was right (category).

Results are kept per model in ``model_checks.json`` beside the settings file,
not in the session database: a figure about a model file on this workstation,
which the model manager shows without a session open; the session database
holds documents and review decisions, written by its own writer thread, and a
measurement derived from them is no review action.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.core.atomic import write_text_atomic
from engine.core.codes import Edition
from engine.core.errors import ReviewError, SessionError
from engine.core.model import DocumentResult, ReviewStatus
from engine.core.progress import Progress
from engine.evaluation.metrics import ModelVersusFuzzy, evaluate
from engine.linking.llm.backend import BackendSettings
from engine.linking.llm.linker import LLMLinker
from engine.linking.llm.session import LLMStage, StageClosed, open_llm_stage
from engine.linking.llm.worker import model_unloaded
from engine.linking.pipeline import Pipeline
from engine.models.store import ModelStore
from engine.records.review import is_reviewed
from engine.records.settings import default_settings_path
from engine.text.annotations import GoldDocument, GoldMention

__all__ = ["ModelCheck", "ModelChecks", "check_model", "reviewed_gold"]

log = logging.getLogger(__name__)

_GOLD_STATUSES = (ReviewStatus.ACCEPTED, ReviewStatus.CORRECTED)


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """One test of a model on reviewed documents: what the model and the fuzzy ranking got right."""

    model: str
    measured_at: str  # ISO 8601, UTC
    documents: int
    asked: int
    model_right: int
    fuzzy_right: int
    either_right: int
    seconds_per_document: float

    def summary(self) -> str:
        """One line for the model manager."""
        if not self.asked:
            return (f"{self.measured_at[:10]}, {self.documents} reviewed documents: the dictionaries settled "
                    "every mention, the model was asked nothing")
        verdict = "helps" if self.model_right > self.fuzzy_right else "does not beat the fuzzy ranking"
        return (
            f"{self.measured_at[:10]}, {self.documents} reviewed documents: right on {self.model_right} of "
            f"{self.asked} mentions asked, fuzzy top candidate {self.fuzzy_right} ({verdict}); "
            f"{self.seconds_per_document:.1f} s per document"
        )


def reviewed_gold(results: Iterable[DocumentResult]) -> list[GoldDocument]:
    """The reviewed documents' accepted and corrected mentions, with their final codes, as gold
    (ICD-10 only: the model is tested on the language's ICD-10 pipeline, not on ICD-O-3 coded beside it)."""
    gold = []
    for result in results:
        if not is_reviewed(result):
            continue
        mentions = tuple(GoldMention(a.mention, a.code) for a in result.assignments
                         if a.status in _GOLD_STATUSES and a.code and a.edition is not Edition.ICDO3)
        if mentions:
            gold.append(GoldDocument(result.document, mentions, frozenset(m.code for m in mentions)))
    return gold


def check_model(
    model: str,
    results: Iterable[DocumentResult],
    progress: Progress | None = None,
    store: ModelStore | None = None,
    backend: BackendSettings | None = None,
    skip_margin: float = 1.01,
    loaded: LLMStage | None = None,
) -> ModelCheck:
    """Code the reviewed documents again with ``model`` and compare it with the fuzzy ranking.

    ``loaded`` is the model the window holds: when it is ``model``'s very file the test asks
    it, on its one worker thread, rather than hold a second copy of the weights in memory;
    otherwise the test loads its own and frees it at the end.  Raises ``ReviewError`` when
    no reviewed document has an accepted or corrected mention, ``Cancelled`` as soon as
    ``progress`` says so, and ``BackendError`` when the window closes ``loaded`` meanwhile
    (nothing measured is returned: a test cut short would understate the model).
    """
    corpus = reviewed_gold(results)
    if not corpus:
        raise ReviewError("no reviewed document has an accepted or corrected code to test the model on",
                          hint="Review a few documents to the end first.")
    by_language: dict[str, list[GoldDocument]] = defaultdict(list)
    for gold in corpus:
        by_language[gold.document.language].append(gold)
    versus = ModelVersusFuzzy()
    started = time.perf_counter()
    shared = loaded if loaded is not None and loaded.serves(model, store) else None
    stage = shared
    try:
        for language, documents in by_language.items():
            pipeline = Pipeline.bundled(language)
            if stage is None:
                stage = open_llm_stage(model, language, pipeline.catalog, backend, store, cancel=progress)
            # A linker of its own: the window's keeps its settings (skip margin, language).
            pipeline.llm = LLMLinker(stage.linker.generate, pipeline.catalog, language, stage.linker.model,
                                     skip_margin=skip_margin)
            evaluate(pipeline, documents, "gold", progress, versus.add)
    except StageClosed:
        raise model_unloaded() from None
    finally:
        if stage is not None and stage is not shared:
            stage.close()
    return ModelCheck(
        model=model, measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        documents=len(corpus), asked=versus.asked, model_right=versus.model, fuzzy_right=versus.fuzzy,
        either_right=versus.either, seconds_per_document=round((time.perf_counter() - started) / len(corpus), 2),
    )


class ModelChecks:
    """The last test of each model, by model id, in one small JSON file (damaged: starts empty)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_settings_path().parent / "model_checks.json"

    def all(self) -> dict[str, ModelCheck]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {key: ModelCheck(**value) for key, value in data.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError) as error:
            log.warning("model test results %s unreadable (%s); starting afresh", self.path, error)
            return {}

    def get(self, model: str) -> ModelCheck | None:
        return self.all().get(model)

    def save(self, check: ModelCheck) -> None:
        checks = {**self.all(), check.model: check}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps({k: asdict(v) for k, v in checks.items()}, indent=1) + "\n")
        except OSError as error:
            raise SessionError(f"could not save the model test result to {self.path}: {error}") from error
