"""The site dictionary: what coders decide teaches the workstation, through the real review path and SQLite.

Documents are coded by the real pipeline, reviewed with ``engine.records.review`` as the window
does (one ``ReviewStep`` per action), and written by the real session writer, which turns the
audit rows into lessons; a later document must then be coded by what was learned.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.coding import Coder, CodingEvent, CodingRequest
from engine.core.codes import Edition
from engine.core.errors import SiteDictionaryError
from engine.core.model import Document, DocumentResult, ReviewStatus, Stage
from engine.core.progress import CancelToken
from engine.records.audit import Action, ReviewStep, Step
from engine.records.review import accept, add_mention, change_code, reject
from engine.records.session import ReviewSession, SessionChanges, SessionDocument
from engine.records.session_db import OpenedSession, open_session
from engine.records.site_store import edit_lessons, export_site, history
from engine.terms.catalog import Catalog
from engine.terms.site_dictionary import KeyRule, Lesson, SiteDictionary, Verdict, site_key
from engine.text.normalize import scan

WHO = Catalog.bundled(Edition.WHO)
NOW = "2026-12-01T09:00:00.000+00:00"


# --- keys: the forms coders meet ---------------------------------------------------------------


@pytest.mark.parametrize(("language", "taught", "met"), [
    ("el", "δύσπνοια", "δύσπνοιας"),  # Greek case endings
    ("el", "κολπική μαρμαρυγή", "ΚΟΛΠΙΚΗΣ ΜΑΡΜΑΡΥΓΗΣ"),  # case and accents too
    ("es", "infección urinaria", "infecciones urinarias"),  # Spanish plural
    ("es", "insuficiencia cardiaca congestiva", "insuficiencia congestiva cardiaca"),  # word order
    ("de", "Herzinsuffizienz", "herzinsuffizienzen"),
    ("fr", "pneumopathie infectieuse", "pneumopathies infectieuses"),
    ("en", "atrial fibrillation", "Fibrillation, atrial"),
])
def test_inflected_and_reordered_forms_share_a_key(language: str, taught: str, met: str) -> None:
    assert site_key(taught, language) == site_key(met, language)
    assert site_key(taught, language, KeyRule(stem=False, any_order=False)) != site_key(met, language, KeyRule(
        stem=False, any_order=False))


def test_abbreviations_are_kept_whole_in_both_scripts() -> None:
    assert site_key("ΣΔ", "el") == "σδ" and site_key("AF", "el") == "af"
    assert site_key("ΚΜ", "el") != site_key("KM", "el")  # Greek Kappa-Mu is not Latin K-M
    assert site_key("HTA", "es") == "hta" and site_key("EPOC", "es") == site_key("epoc", "es")


# --- the dictionary in memory --------------------------------------------------------------------


def _lesson(term: str, code: str | None, weight: int = 1, language: str = "el", at: str = NOW) -> Lesson:
    return Lesson(language, Edition.WHO, term, code, weight, at)


def test_consistent_decisions_settle_conflicting_ones_do_not_rejections_stop_detection() -> None:
    site = SiteDictionary("el", Edition.WHO)
    site.learn([_lesson("δύσπνοια", "R06.0")] * 3 + [_lesson("πόνος", "R52")] * 2 + [_lesson("πόνος", "R10")] * 2
               + [_lesson("ιστορικό", None)] * 2)
    verdicts = {entry.display: site.rule.decide(entry).verdict for entry in site.entries()}
    assert verdicts == {"δύσπνοια": Verdict.SETTLED, "πόνος": Verdict.CONFLICT, "ιστορικό": Verdict.REJECTED}
    text = "Δύσπνοιας και πόνος, χωρίς ιστορικό."
    scanned = scan(text)
    found = [text[slice(*scanned.span(m.first, m.last))] for m in site.find(scanned)]
    assert found == ["Δύσπνοιας", "πόνος"]
    site.learn([_lesson("δύσπνοια", "R06.0", -1)] * 3)  # every decision taken back: the term is forgotten
    assert site.lookup("δύσπνοια") is None and [text[slice(*scanned.span(m.first, m.last))]
                                                for m in site.find(scanned)] == ["πόνος"]


def test_a_german_compound_finds_its_learned_head_as_a_candidate_only() -> None:
    site = SiteDictionary("de", Edition.GM)
    site.learn([Lesson("de", Edition.GM, "Herzinsuffizienz", "I50.9", 1, NOW)])
    assert [(e.display, round(score, 2)) for e, score in site.similar("Linksherzinsuffizienz")] == [
        ("Herzinsuffizienz", 0.93)]
    assert site.similar("Niereninsuffizienz") == []  # another organ's failure is not this head
    assert site.lookup("Linksherzinsuffizienz") is None  # never settled by the head alone


def test_a_document_of_a_million_distinct_words_keeps_the_stem_cache_bounded() -> None:
    site = SiteDictionary("es", Edition.CM)
    site.learn([_lesson("fiebre", "R50.9", language="es")])
    text = " ".join(f"palabra{n}x" for n in range(300_000)) + " fiebres"
    matches = site.find(scan(text))
    assert [m.key for m in matches] == ["fiebr"]
    assert len(site._stems) <= 200_000


# --- learning through the review path ---------------------------------------------------------


class Workstation:
    """A session database, a coder with its site dictionary, and review as the window does it."""

    def __init__(self, path: Path) -> None:
        self.opened: OpenedSession = open_session(path)
        assert self.opened.problem is None
        self.session: ReviewSession = self.opened.session
        self.database = self.opened.database
        self.coder = Coder(site=self.database.site)

    def code(self, name: str, text: str, language: str = "el") -> DocumentResult:
        key = f"/letters/{name}.txt"
        if not any(d.key == key for d in self.session):
            self.session.documents.append(SessionDocument(key, None))
        events: list[CodingEvent] = []
        self.coder.code([CodingRequest(key, Document(name, text, language), language)], CancelToken(), events.append)
        result = events[-1].result
        self.session.set_result(key, result)
        return result

    def review(self, name: str, action: Action, change) -> DocumentResult:  # type: ignore[no-untyped-def]
        key = f"/letters/{name}.txt"
        before = self.session.get(key).result
        assert before is not None
        after = change(before)
        self.step(key, action, Step.DO, before, after)
        return after

    def decide(self, name: str, text: str, words: str, code: str) -> DocumentResult:
        """What a coder does: accept the proposal if it is right, else change it, else add the mention."""
        result = self.session.get(f"/letters/{name}.txt").result
        assert result is not None
        found = [i for i, a in enumerate(result.assignments) if a.mention.text == words]
        if not found:
            return self.review(name, Action.ADD_MENTION, lambda r: add_mention(r, [_span(text, words)], code, WHO))
        index = found[0]
        if result.assignments[index].code == code:
            return self.review(name, Action.ACCEPT, lambda r: accept(r, index))
        return self.review(name, Action.CHANGE_CODE, lambda r: change_code(r, index, code, WHO))

    def step(self, key: str, action: Action, step: Step, before: DocumentResult, after: DocumentResult) -> None:
        self.session.set_result(key, after, ReviewStep(key, action, step, before, after, "coder-1", datetime.now(UTC)))
        self.save()

    def save(self) -> None:
        self.database.submit(self.session.take_changes())
        self.database.flush()

    def close(self) -> None:
        self.database.close()


def _index(result: DocumentResult, words: str) -> int:
    return next(i for i, a in enumerate(result.assignments) if a.mention.text == words)


def _span(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


FIRST = "Άνδρας 72 ετών με αλλεργική ρινίτιδα και δύσπνοια. Γνωστή αρτηριακή υπέρταση."
LATER = "Επανεισαγωγή για αλλεργικής ρινίτιδας, δύσπνοιας και αρτηριακής υπέρτασης."


def _teach(station: Workstation) -> None:
    station.code("first", FIRST)
    for words, code in (("αλλεργική ρινίτιδα", "J30.4"), ("αρτηριακή υπέρταση", "I10"), ("δύσπνοια", "R06.0")):
        station.decide("first", FIRST, words, code)


def _by_text(result: DocumentResult) -> dict[str, tuple[str | None, Stage | None, ReviewStatus]]:
    return {a.mention.text: (a.code, a.stage, a.status) for a in result.assignments}


def test_decisions_teach_later_documents_and_survive_a_restart(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    before = _by_text(station.code("before", LATER))
    assert "αλλεργικής ρινίτιδας" not in before  # neither the Greek titles nor the Greek lexicon know it
    _teach(station)
    later = station.code("later", LATER)
    shown = _by_text(later)
    assert shown["αλλεργικής ρινίτιδας"] == ("J30.4", Stage.SITE, ReviewStatus.PENDING)
    assert shown["αρτηριακής υπέρτασης"] == ("I10", Stage.SITE, ReviewStatus.PENDING)
    assert shown["δύσπνοιας"][:2] == ("R06.0", Stage.SITE)
    evidence = later.assignments[_index(later, "αλλεργικής ρινίτιδας")].evidence
    assert evidence.startswith("coded J30.4 once by this site's coders, last on")
    station.close()

    again = Workstation(tmp_path / "session.sqlite")  # a new process on the same database
    assert _by_text(again.code("after-restart", LATER))["αλλεργικής ρινίτιδας"] == ("J30.4", Stage.SITE,
                                                                                  ReviewStatus.PENDING)
    learned = again.database.site.get("el", Edition.WHO)
    entry = learned.lookup("αλλεργική ρινίτιδα")
    assert entry is not None
    assert [(r.code, r.weight, r.origin, r.document, r.coder)
            for r in history(tmp_path / "session.sqlite", "el", Edition.WHO, entry.key)] == [
        ("J30.4", 1, "review", "/letters/first.txt", "coder-1")]
    again.close()


def test_undo_takes_the_lesson_back_and_redo_teaches_it_again(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    station.code("first", FIRST)
    key = "/letters/first.txt"
    before = station.session.get(key).result
    assert before is not None
    after = add_mention(before, [_span(FIRST, "αλλεργική ρινίτιδα")], "J30.4", WHO)
    station.step(key, Action.ADD_MENTION, Step.DO, before, after)
    site = station.database.site.get("el", Edition.WHO)
    assert site.lookup("αλλεργικής ρινίτιδας") is not None
    station.step(key, Action.ADD_MENTION, Step.UNDO, after, before)
    assert site.lookup("αλλεργικής ρινίτιδας") is None
    assert "αλλεργικής ρινίτιδας" not in _by_text(station.code("later", LATER))
    station.step(key, Action.ADD_MENTION, Step.REDO, before, after)
    assert site.lookup("αλλεργικής ρινίτιδας") is not None
    station.close()


def test_a_change_of_mind_moves_the_count_and_disagreement_makes_candidates(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    text = "Ασθενής με θωρακικό άλγος."
    for name, code in (("a", "R07.4"), ("b", "R07.4"), ("c", "I20.9"), ("d", "I20.9")):
        station.code(name, text)
        station.decide(name, text, "θωρακικό άλγος", code)
    result = station.code("e", text)
    conflict = result.assignments[_index(result, "θωρακικό άλγος")]
    assert (conflict.stage, conflict.status) == (Stage.SITE, ReviewStatus.NEEDS_REVIEW)
    assert {"I20.9", "R07.4"} <= {c.code for c in conflict.candidates[:2]}
    assert "site_conflict" in conflict.provenance and not conflict.settled
    assert conflict.evidence.startswith("this site's coders disagree")
    # the coder of "c" changes their mind: that mention's I20.9 is taken back, R07.4 counted
    index = _index(station.session.get("/letters/c.txt").result, "θωρακικό άλγος")  # type: ignore[arg-type]
    station.review("c", Action.CHANGE_CODE, lambda r: change_code(r, index, "R07.4", WHO))
    entry = station.database.site.get("el", Edition.WHO).lookup("θωρακικό άλγος")
    assert entry is not None and entry.codes == (("R07.4", 3), ("I20.9", 1))
    assert _by_text(station.code("f", text))["θωρακικό άλγος"] == ("R07.4", Stage.SITE, ReviewStatus.PENDING)
    station.close()


def test_a_rejected_detection_stops_being_detected(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    text = "Paciente con dolor en ambos miembros inferiores y fiebre."
    result = station.code("a", text, "es")
    assert "fiebre" in _by_text(result)
    index = _index(result, "fiebre")
    result = station.review("a", Action.REJECT, lambda r: reject(r, index))
    result = station.code("b", text, "es")
    assert "fiebre" not in _by_text(result)
    assert "dolor" in " ".join(_by_text(result))  # the rest is detected as before
    station.close()


def test_accepting_teaches_too_and_a_site_settled_term_skips_the_model(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    text = "Paciente con fiebre."
    result = station.code("a", text, "es")
    index = _index(result, "fiebre")
    station.review("a", Action.ACCEPT, lambda r: accept(r, index))
    later = station.code("b", "Vuelve con fiebre alta.", "es")
    fever = later.assignments[_index(later, "fiebre")]
    assert fever.stage is Stage.SITE and fever.settled and fever.code == result.assignments[index].code
    station.close()


# --- sharing between workstations ----------------------------------------------------------------


def test_export_then_import_on_another_workstation_reproduces_what_was_learned(tmp_path: Path) -> None:
    first = Workstation(tmp_path / "first.sqlite")
    _teach(first)
    shared = tmp_path / "site.json"
    assert export_site(first.database.site, shared) == 3
    payload = json.loads(shared.read_text(encoding="utf-8"))
    assert payload["format"] == "icdlinker-site-dictionary-1" and "no document text" in payload["privacy"]
    assert FIRST not in shared.read_text(encoding="utf-8") and "Άνδρας" not in shared.read_text(encoding="utf-8")
    first.close()

    second = Workstation(tmp_path / "second.sqlite")
    report = second.database.import_site_file(shared)
    assert (report.terms, report.new_terms, report.conflicts) == (3, 3, ())
    assert _by_text(second.code("later", LATER))["αλλεργικής ρινίτιδας"] == ("J30.4", Stage.SITE, ReviewStatus.PENDING)
    with pytest.raises(SiteDictionaryError, match="imported into this workstation before"):
        second.database.import_site_file(shared)
    entry = second.database.site.get("el", Edition.WHO).lookup("αλλεργική ρινίτιδα")
    assert entry is not None and entry.codes == (("J30.4", 1),)  # counted once
    second.close()


def test_an_import_that_disagrees_lists_the_conflict_and_counts_add_up(tmp_path: Path) -> None:
    here = Workstation(tmp_path / "here.sqlite")
    _teach(here)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "icdlinker-site-dictionary-1", "terms": [
        {"language": "el", "edition": "who", "term": "αλλεργικής ρινίτιδας", "codes": {"J30.4": 2, "J31.0": 5},
         "rejected": 0, "first": NOW, "last": NOW}]}), encoding="utf-8")
    report = here.database.import_site_file(other)
    assert report.conflicts == (("el", "αλλεργικής ρινίτιδας", "J30.4", "J31.0"),)
    entry = here.database.site.get("el", Edition.WHO).lookup("αλλεργική ρινίτιδα")
    assert entry is not None and entry.codes == (("J31.0", 5), ("J30.4", 3))
    here.close()


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"format": "icdlinker-site-dictionary-1", "terms": [', "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (b'{"format": "icdlinker-session-db-1", "terms": []}', "not an icdlinker site dictionary"),
    (b'[1, 2, 3]', "not an icdlinker site dictionary"),
    (b'{"format": "icdlinker-site-dictionary-1", "terms": {}}', "'terms' must be a list"),
    (b'{"format": "icdlinker-site-dictionary-1", "terms": [{"language": "xx"}]}', "unknown language"),
    (b'{"format": "icdlinker-site-dictionary-1", "terms": [{"language": "el", "edition": "who", "term": "x",'
     b' "codes": {"NOT A CODE": 1}, "last": "2026-01-01T00:00:00"}]}', "not an ICD code"),
    (b'{"format": "icdlinker-site-dictionary-1", "terms": [{"language": "el", "edition": "who", "term": "x",'
     b' "codes": {"I48": 1e99}, "last": "2026-01-01T00:00:00"}]}', "whole numbers"),
    (b'{"format": "icdlinker-site-dictionary-1", "terms": [{"language": "el", "edition": "who", "term": "x",'
     b' "codes": {"I48": true}, "last": "2026-01-01T00:00:00"}]}', "whole numbers"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
])
def test_a_damaged_or_foreign_file_is_refused_and_changes_nothing(tmp_path: Path, content: bytes,
                                                                   problem: str) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    _teach(station)
    learned = {(d.language, e.key, e.codes) for d in station.database.site.all() for e in d.entries()}
    bad = tmp_path / "bad.json"
    # a valid first term before the damage: nothing of it may be applied either
    bad.write_bytes(content)
    with pytest.raises(SiteDictionaryError, match=problem) as raised:
        station.database.import_site_file(bad)
    assert raised.value.code == "ICD-E404" and "nothing was changed" in str(raised.value)
    assert {(d.language, e.key, e.codes) for d in station.database.site.all() for e in d.entries()} == learned
    station.close()


def test_edits_from_the_site_dictionary_view_settle_or_forget_a_term(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "session.sqlite")
    _teach(station)
    site = station.database.site.get("el", Edition.WHO)
    entry = site.lookup("δύσπνοια")
    assert entry is not None
    station.database.submit(SessionChanges(lessons=tuple(edit_lessons(site, entry, "R06.8"))))
    station.database.flush()
    edited = site.lookup("δύσπνοια")
    assert edited is not None and edited.codes == (("R06.8", 1),)
    station.database.submit(SessionChanges(lessons=tuple(edit_lessons(site, edited))))
    station.database.flush()
    assert site.lookup("δύσπνοια") is None
    station.close()
    reopened = open_session(tmp_path / "session.sqlite")
    assert reopened.database.site.get("el", Edition.WHO).lookup("δύσπνοια") is None
    reopened.database.close()


def test_the_site_command_lists_exports_and_imports(tmp_path: Path) -> None:
    station = Workstation(tmp_path / "first.sqlite")
    _teach(station)
    station.close()
    shared = tmp_path / "shared.json"

    def site(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine", "site", *map(str, args)], capture_output=True,
                              text=True, timeout=120)

    listed = site("--session", tmp_path / "first.sqlite", "list", "--lang", "el")
    assert listed.returncode == 0, listed.stderr
    assert "settled   'αλλεργική ρινίτιδα': J30.4×1" in listed.stdout and listed.stdout.endswith("3 term(s)\n")
    exported = site("--session", tmp_path / "first.sqlite", "export", shared)
    assert exported.returncode == 0 and "exported 3 terms" in exported.stdout
    imported = site("--session", tmp_path / "second.sqlite", "import", shared)
    assert imported.returncode == 0 and "imported 3 terms (3 new)" in imported.stdout
    again = site("--session", tmp_path / "second.sqlite", "import", shared)
    assert again.returncode == 2 and again.stderr.startswith("icdlinker: [ICD-E404]") and "Traceback" not in again.stderr
