"""The batch coder the window runs: languages detected, bad files isolated, results streamed."""

import csv
import threading
from pathlib import Path

import pytest

from engine.cli import main
from engine.coding import Coder, CodingEvent, CodingRequest
from engine.core.codes import Edition
from engine.core.model import Document, Stage
from engine.core.progress import Cancelled, CancelToken
from engine.core.resources import compiled_dir, resources_dir
from engine.linking.specificity import NEEDS_SPECIFIC_CODE
from engine.records.export import csv_rows
from engine.records.settings import AppSettings
from engine.text.language import detect_language

SAMPLES = sorted((resources_dir() / "samples").glob("*/*.txt"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_sample_is_detected_in_its_language(sample: Path) -> None:
    assert detect_language(sample.read_text(encoding="utf-8")) == sample.parent.name


def test_no_evidence_means_the_default_language() -> None:
    assert detect_language("12/03/2024 — 37,5 °C", default="fr") == "fr"
    assert detect_language("", default="de") == "de"


def test_a_mixed_batch_codes_each_document_in_its_language(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 truncated")
    requests = [CodingRequest(str(p), p) for p in SAMPLES]
    requests.insert(1, CodingRequest("broken", broken))
    requests.append(CodingRequest("fixed", Document("memo", "Neumonía basal derecha.", "es"), "es", Edition.WHO))
    events: list[CodingEvent] = []
    Coder().code(requests, CancelToken(), events.append)
    finals = {e.key: e.result for e in events if e.final}
    assert list(finals) == [r.key for r in requests]
    assert finals["broken"].error and "ICD-E101" in finals["broken"].error
    for sample in SAMPLES:
        result = finals[str(sample)]
        assert result.error is None and result.document.language == sample.parent.name
        assert any(a.stage is Stage.DICTIONARY for a in result.assignments), sample
    assert {a.edition for a in finals["fixed"].assignments} == {Edition.WHO}


def test_with_morphology_on_a_language_without_icdo3_is_coded_in_icd10_and_told_so() -> None:
    texts = {
        "de": "Diagnose: Bronchialkarzinom rechts. Der Patient wurde stationär aufgenommen und behandelt.",
        "es": "El paciente ingresó por un adenocarcinoma de pulmón derecho y recibió quimioterapia.",
    }
    requests = [CodingRequest(lang, Document(lang, text, lang), lang) for lang, text in texts.items()]
    events: list[CodingEvent] = []
    Coder(AppSettings(code_morphology=True)).code(requests, CancelToken(), events.append)
    finals = {e.key: e.result for e in events if e.final}
    german, spanish = finals["de"], finals["es"]
    assert german.error is None and german.assignments
    assert Edition.ICDO3 not in {a.edition for a in german.assignments}
    assert [w for w in german.document.warnings if "[ICD-W103]" in w and "'de'" in w]
    assert Edition.ICDO3 in {a.edition for a in spanish.assignments}
    assert not [w for w in spanish.document.warnings if "ICD-W103" in w]


def test_a_failing_morphology_pass_keeps_the_icd10_codes_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled = tmp_path / "compiled"  # every bundled file but the Spanish ICD-O-3 dictionary
    compiled.mkdir()
    for path in compiled_dir().glob("*.json.gz"):
        if path.name != "es.icdo3.terms.json.gz":
            (compiled / path.name).symlink_to(path)
    monkeypatch.setenv("ICDLINKER_DICTIONARIES", str(compiled))
    text = "El paciente ingresó por un adenocarcinoma de pulmón derecho y recibió quimioterapia."
    events: list[CodingEvent] = []
    Coder(AppSettings(code_morphology=True)).code([CodingRequest("es", Document("es", text, "es"), "es")],
                                                   CancelToken(), events.append)
    result = next(e.result for e in events if e.final)
    assert result.error is None and result.assignments
    assert Edition.ICDO3 not in {a.edition for a in result.assignments}
    assert [w for w in result.document.warnings if w.startswith("ICD-O-3 morphology not coded") and "ICD-E" in w]


def test_cancel_stops_between_documents_and_keeps_what_was_coded() -> None:
    class CancelAfterFirst(CancelToken):
        def update(self, done: int, total: int, message: str) -> None:
            if done >= 1:
                self.cancel()

    events: list[CodingEvent] = []
    with pytest.raises(Cancelled):
        Coder().code([CodingRequest(str(p), p) for p in SAMPLES], CancelAfterFirst(), events.append)
    assert [e.key for e in events if e.final] == [str(SAMPLES[0])]


def test_llm_answers_stream_in_before_the_final_result(gemma_gguf: Path) -> None:
    # Every open mention asked (no skip margin): one streamed update per mention.
    settings = AppSettings().with_changes(model=str(gemma_gguf), threads=1, context_size=4096, llm_skip_margin=1.01)
    coder = Coder(settings)
    # Terms the dictionary cannot settle alone (several codes in CodiEsp), so the model answers.
    text = "Fumador, con dispepsia e insuficiencia respiratoria; se descarta neoplasia vesical."
    events: list[CodingEvent] = []
    try:
        coder.code([CodingRequest("d", Document("d", text, "es"), "es")], CancelToken(), events.append)
        assert coder.model_loaded == gemma_gguf.name
    finally:
        coder.close()
    assert events[-1].final and all(not e.final for e in events[:-1])
    assert events[0].llm is None  # the dictionary's result first
    decided = [e.llm.decided for e in events[1:-1]]
    assert decided == list(range(1, len(decided) + 1)) and decided, "one update per answered mention"
    final = events[-1].result
    assert final.assignments == events[-2].result.assignments
    for assignment in final.assignments:
        if "llm_answer" in assignment.provenance:
            assert assignment.stage in (Stage.LLM, Stage.FUZZY)
            shown = assignment.provenance["candidates_shown"]  # or the code it was made specific from
            assert assignment.code in shown or assignment.provenance.get(NEEDS_SPECIFIC_CODE) in shown


def test_a_model_switched_from_is_freed_before_the_next_one_loads(gemma_gguf: Path) -> None:
    """Closing frees the model without waiting (the window's UI thread calls it); the next load waits
    for that freeing, or the memory check would count both models."""
    settings = AppSettings().with_changes(model=str(gemma_gguf), threads=1, context_size=2048)
    coder = Coder(settings)
    request = CodingRequest("d", Document("d", "Fumador con dispepsia.", "es"), "es")
    coder.code([request], CancelToken(), lambda event: None)
    old = coder.stage
    assert old is not None and old.worker.backend.loaded
    released = threading.Event()
    old.worker.submit(released.wait, 30)  # the model thread is busy: the freeing waits behind this call
    coder.configure(settings.with_changes(context_size=4096))  # a setting that reloads the model
    assert coder.stage is None and old.worker.backend.loaded  # closed, not yet freed

    old_loaded_at_load: list[bool] = []

    class Watch(CancelToken):
        def update(self, done: int, total: int, message: str) -> None:
            if message.startswith("loading model") and not old_loaded_at_load:
                old_loaded_at_load.append(old.worker.backend.loaded)

    threading.Timer(0.5, released.set).start()
    try:
        coder.code([request], Watch(), lambda event: None)
        assert coder.stage is not None and coder.stage is not old and coder.stage.worker.backend.loaded
    finally:
        coder.close()
    assert old_loaded_at_load == [False]


def _window_rows(sample: Path) -> list[tuple[str, str, str]]:
    """(spans, mention, code) of what the window's Coder finds in ``sample``, on the saved settings."""
    events: list[CodingEvent] = []
    Coder(AppSettings.load()).code([CodingRequest("doc", sample, sample.parent.name)], CancelToken(), events.append)
    [result] = [e.result for e in events if e.final]
    return [(row[1], row[2], row[3]) for row in csv_rows([result])]


def _cli_rows(sample: Path, out: Path) -> list[tuple[str, str, str]]:
    assert main(["code", str(sample), "--lang", sample.parent.name, "-o", str(out)]) == 0
    with out.open(encoding="utf-8-sig", newline="") as stream:
        return [(r["spans"], r["mention"], r["code"]) for r in csv.DictReader(stream)]


@pytest.mark.parametrize("saved", [None, {"nested_mentions": False}], ids=["default", "nested off saved"])
def test_the_command_line_and_the_window_find_the_same_mentions(
    tmp_path: Path, user_dirs: Path, saved: dict | None
) -> None:
    """Both read the one settings file (in the test's own user folder), or its defaults when there is none."""
    settings = AppSettings() if saved is None else AppSettings().with_changes(**saved)
    if saved is not None:
        settings.save()
    rows = []
    for sample in [s for s in SAMPLES if s.parent.name in ("es", "de")]:  # with nested terms in them
        window = _window_rows(sample)
        assert window, sample
        assert _cli_rows(sample, tmp_path / f"{sample.stem}.csv") == window, sample
        rows += [(sample, *row) for row in window]
    inner = [row for row in rows if any(o[0] == row[0] and o != row and _inside(row[1], o[1]) for o in rows)]
    assert bool(inner) == settings.nested_mentions


def _inside(spans: str, outer: str) -> bool:
    (start, end), (outer_start, outer_end) = (map(int, s.split(";")[0].split()) for s in (spans, outer))
    return outer_start <= start and end <= outer_end
