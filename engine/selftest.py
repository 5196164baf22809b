"""``icdlinker --self-test``: prove an installation works, headless, before a coder relies on it.

IT runs it after copying the app onto an air-gapped workstation, and CI runs it on
the frozen build, where missing data files or native libraries only show at run
time.  Every bundled catalog and dictionary must load, every bundled sample must
code to codes valid in its catalog, llama.cpp's native library must load, and with
a model (``--model``, else a model bundled with the app) one constrained linking
call must answer with an offered code or "none".  Checks are timed and
independent: one failure still lets the others report.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TypeVar

from engine.core.codes import Edition
from engine.core.errors import EngineError
from engine.core.model import Document, Mention, Stage
from engine.core.netguard import Attempt
from engine.core.resources import compiled_dir, resources_dir
from engine.linking.llm.linker import LLMLinker
from engine.linking.llm.prompt import NONE
from engine.linking.llm.session import LLMStage, open_llm_stage
from engine.linking.pipeline import Pipeline
from engine.models.store import ModelStore
from engine.terms.catalog import Catalog
from engine.terms.dictionary import LANGUAGES, TermDictionary

__all__ = ["Check", "Outcome", "network_check", "passed", "run_checks", "summary"]

T = TypeVar("T")

# Phrases the Spanish dictionary cannot settle on its own, so the LLM stage is asked.
_LLM_LANGUAGE = "es"
_LLM_TEXT = "Varón de 70 años con disnea de esfuerzo y dolor torácico atípico de una semana. Prurito generalizado."
_LLM_PHRASES = ("disnea de esfuerzo", "dolor torácico atípico de una semana", "Prurito generalizado")


class Outcome(StrEnum):
    PASSED = "ok"
    FAILED = "FAIL"
    SKIPPED = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.outcome.value:<4} {self.seconds:6.2f} s  {self.name}: {self.detail}"


class _Failed(Exception):
    """A check's condition did not hold; the message says which."""


def run_checks(model: str | None = None, store: ModelStore | None = None) -> Iterator[Check]:
    """Run every check, yielding each as it finishes (the LLM checks take seconds)."""
    store = store or ModelStore()
    yield _timed("installation", _installation)[0]
    yield _timed("llama.cpp", _native_library)[0]
    catalogs: dict[Edition, Catalog] = {}
    for edition in Edition:
        check, catalog = _timed(f"catalog {edition.value}", partial(_catalog, edition))
        if catalog is not None:
            catalogs[edition] = catalog
        yield check
    pipelines: dict[str, Pipeline] = {}
    for language in LANGUAGES:
        check, pipeline = _timed(f"dictionary {language}", partial(_pipeline, language, catalogs))
        if pipeline is not None:
            pipelines[language] = pipeline
        yield check
    for language in LANGUAGES:
        yield from _samples(language, pipelines.get(language))
    check, bundled = _timed("models", partial(_models, store))
    yield check
    yield from _llm(model or (bundled[0] if bundled else None), pipelines.get(_LLM_LANGUAGE), store)


def network_check(attempts: Sequence[Attempt]) -> Check:
    """The last line: nothing the self-test did reached for the network (``engine.core.netguard`` recorded it)."""
    if not attempts:
        return Check("network", Outcome.PASSED, "0 socket or process-start attempts during the self-test")
    listed = "; ".join(attempt.line() for attempt in attempts[:5])
    return Check("network", Outcome.FAILED, f"{len(attempts)} socket or process-start attempts: {listed}")


def passed(checks: list[Check]) -> bool:
    return all(c.outcome is not Outcome.FAILED for c in checks)


def summary(checks: list[Check]) -> str:
    failed = sum(c.outcome is Outcome.FAILED for c in checks)
    seconds = sum(c.seconds for c in checks)
    if failed:
        return f"self-test FAILED: {failed} of {len(checks)} checks failed ({seconds:.1f} s)"
    return f"self-test passed: {len(checks)} checks in {seconds:.1f} s"


def _timed(name: str, work: Callable[[], tuple[str, T]]) -> tuple[Check, T | None]:
    """Run one check; engine errors and failed conditions become a FAIL line, not a crash."""
    started = time.perf_counter()
    try:
        detail, value = work()
    except (EngineError, _Failed) as error:
        return Check(name, Outcome.FAILED, str(error), time.perf_counter() - started), None
    except Exception as error:  # noqa: BLE001 — a self-test reports everything; IT reads the line
        return Check(name, Outcome.FAILED, f"unexpected error: {error!r}", time.perf_counter() - started), None
    return Check(name, Outcome.PASSED, detail, time.perf_counter() - started), value


def _installation() -> tuple[str, None]:
    kind = "frozen app" if getattr(sys, "frozen", False) else "Python package"
    for what, folder in (("dictionaries", compiled_dir()), ("resources", resources_dir())):
        if not folder.is_dir():
            raise _Failed(f"the {what} folder {folder} does not exist")
    where = f"dictionaries {compiled_dir()}; resources {resources_dir()}"
    return f"{kind}, Python {platform.python_version()} on {platform.system()} {platform.machine()}; {where}", None


def _native_library() -> tuple[str, None]:
    import llama_cpp  # loads libllama: the library PyInstaller builds are known to lose

    offload = "GPU offload available" if llama_cpp.llama_supports_gpu_offload() else "CPU only"
    return f"llama-cpp-python {llama_cpp.__version__} loaded, {offload}", None


def _catalog(edition: Edition) -> tuple[str, Catalog]:
    catalog = Catalog.bundled(edition)
    if not len(catalog):
        raise _Failed(f"the {edition.label} catalog is empty")
    return f"{len(catalog):,} entries ({catalog.name})", catalog


def _pipeline(language: str, catalogs: dict[Edition, Catalog]) -> tuple[str, Pipeline]:
    dictionary = TermDictionary.bundled(language)
    if not len(dictionary):
        raise _Failed(f"the {language} dictionary has no terms")
    catalog = catalogs.get(dictionary.edition)
    if catalog is None:
        raise _Failed(f"its catalog ({dictionary.edition.label}) did not load")
    return f"{len(dictionary):,} terms, edition {dictionary.edition.label}", Pipeline(dictionary, catalog)


def _samples(language: str, pipeline: Pipeline | None) -> Iterator[Check]:
    folder = resources_dir() / "samples" / language
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        yield Check(f"samples {language}", Outcome.FAILED, f"no sample documents in {folder}")
    elif pipeline is None:
        yield Check(f"samples {language}", Outcome.FAILED, "not run: the dictionary did not load")
    else:
        for path in files:
            yield _timed(f"sample {language}/{path.name}", partial(_code_sample, pipeline, path))[0]


def _code_sample(pipeline: Pipeline, path: Path) -> tuple[str, None]:
    result = next(pipeline.run([path]))
    if result.error:
        raise _Failed(result.error)
    codes = [a.code for a in result.assignments if a.code]
    by_dictionary = sum(a.stage is Stage.DICTIONARY for a in result.assignments)
    invalid = sorted({c for c in codes if not pipeline.catalog.is_valid(c)})
    if invalid:
        raise _Failed(f"codes not in {pipeline.catalog.edition.label}: {', '.join(invalid)}")
    if not by_dictionary:
        raise _Failed(f"none of its {len(result.assignments)} mentions was coded by the dictionary")
    detail = (
        f"{len(result.assignments)} mentions, {by_dictionary} coded by the dictionary, "
        f"all {len(codes)} codes valid in {pipeline.catalog.edition.label}"
    )
    return detail, None


def _models(store: ModelStore) -> tuple[str, list[str]]:
    """What the store offers; the bundled models' ids, first the default."""
    models = store.list()
    bundled = [m.id for m in models if m.bundled]
    selected = store.selected()
    detail = (
        f"{len(models) - len(bundled)} installed in {store.root}, {len(bundled)} bundled "
        f"({', '.join(bundled) or 'none'}); selected: {selected.id if selected else 'none'}"
    )
    return detail, bundled


def _llm(model: str | None, pipeline: Pipeline | None, store: ModelStore) -> Iterator[Check]:
    if model is None:
        yield Check("llm", Outcome.SKIPPED, "no --model given and no model bundled with the app")
        return
    if pipeline is None:
        yield Check("llm", Outcome.FAILED, f"not run: the {_LLM_LANGUAGE} dictionary did not load")
        return
    check, stage = _timed("llm load", partial(_load, model, pipeline.catalog, store))
    yield check
    if stage is None:
        return
    try:
        yield _timed("llm link", partial(_link, pipeline, stage.linker))[0]
    finally:
        stage.close()


def _load(model: str, catalog: Catalog, store: ModelStore) -> tuple[str, LLMStage]:
    stage = open_llm_stage(model, _LLM_LANGUAGE, catalog, store=store)
    identity = stage.linker.model
    return f"{identity.name} (sha256 {identity.sha256[:12]}…)", stage


def _link(dictionary_stage: Pipeline, linker: LLMLinker) -> tuple[str, None]:
    """One constrained call through the pipeline; every answer must be an offered code or "none"."""
    pipeline = Pipeline(dictionary_stage.dictionary, dictionary_stage.catalog, dictionary_stage.settings, llm=linker)
    mentions = []
    for phrase in _LLM_PHRASES:
        start = _LLM_TEXT.index(phrase)
        mentions.append(Mention.from_spans(_LLM_TEXT, [(start, start + len(phrase))]))
    result = pipeline.code(Document("self-test", _LLM_TEXT, _LLM_LANGUAGE), mentions)
    stats = linker.stats
    asked = [a for a in result.assignments if "llm_answer" in a.provenance]
    if not stats.calls or not asked:
        raise _Failed("no mention reached the model")
    answers = []
    for assignment in asked:
        answer, offered = assignment.provenance["llm_answer"], assignment.provenance["candidates_shown"]
        if answer != NONE and answer not in offered:
            raise _Failed(f"{assignment.mention.text!r}: answer {answer!r} is not one of {offered}")
        answers.append(f"{assignment.mention.text!r} → {answer}")
    cost = f"{stats.calls} call(s), {stats.prompt_tokens} prompt tokens, {stats.completion_tokens} generated"
    return f"{cost}; {'; '.join(answers)}", None
