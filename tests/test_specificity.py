"""Codes a coder may submit: terminal codes per edition and version, and the rule every stage passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.core.codes import ICD10_EDITIONS, Edition
from engine.core.model import Assignment, Candidate, Document, Mention, ReviewStatus, Span, Stage
from engine.linking.pipeline import Pipeline
from engine.linking.specificity import NEEDS_SPECIFIC_CODE, SpecificityRule
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp" / "dev"


@pytest.fixture(scope="module")
def cm() -> Catalog:
    return Catalog.bundled(Edition.CM)


def proposed(code: str, catalog: Catalog, candidates: tuple[str, ...] = (), stage: Stage = Stage.DICTIONARY) -> Assignment:
    text = "diabetes"
    return Assignment(
        Mention((Span(0, len(text)),), text), code, catalog.edition, catalog.title(code, "es"), stage, 1.0,
        candidates=tuple(Candidate(c, catalog.edition, catalog.title(c, "es"), 0.9, "fuzzy:title") for c in candidates),
    )


def test_codiesp_codes_that_2026_split_are_terminal_in_2018_only(cm: Catalog) -> None:
    assert cm.default_version == "2018" and set(cm.versions) == {"2018", "2026"}
    for code, split_into in (("R51", "R51.9"), ("R05", "R05.9"), ("M54.5", "M54.50"), ("T14.8", "T14.8XXA")):
        assert cm.is_terminal(code, "2018") and not cm.is_terminal(code, "2026"), code
        assert cm.is_terminal(split_into, "2026"), split_into
    assert not cm.in_version("R51.9", "2018")  # added by ICD-10-CM FY2021
    assert cm.is_terminal("T14.8XX", "2018")  # CodiEsp's cut 7-character forms, with or without placeholders
    assert cm.is_terminal("K56.60", "2018")  # a CodiEsp gold code FY2018 had already split


def test_e11_has_children_in_every_edition_and_version() -> None:
    for edition in ICD10_EDITIONS:
        catalog = Catalog.bundled(edition)
        for version in catalog.versions:
            assert not catalog.is_terminal("E11", version), (edition, version)
            assert catalog.is_terminal("E11.9", version) or edition is Edition.GM, (edition, version)
            assert all(catalog.is_terminal(c, version) for c in catalog.terminal_descendants("E11", version))


def test_settings_offer_exactly_the_catalogs_cm_versions(cm: Catalog) -> None:
    name, default, _, extra = next(row for row in AppSettings.describe() if row[0] == "cm_version")
    assert set(extra["choices"]) == set(cm.versions) and default == cm.default_version


def test_a_category_keeps_its_unspecified_child_and_needs_a_more_specific_code(cm: Catalog) -> None:
    ruled = SpecificityRule(cm, "2018", "es").apply(proposed("E11", cm))
    assert ruled.code == "E11.9" and ruled.status is ReviewStatus.NEEDS_REVIEW
    assert ruled.provenance[NEEDS_SPECIFIC_CODE] == "E11"
    assert "needs a more specific code" in ruled.provenance["specificity"]
    assert ruled.title == cm.title("E11.9", "es") and ruled.stage is Stage.DICTIONARY
    children = [c.code for c in ruled.candidates]
    assert children[0] == "E11.9" and len(children) > 5
    assert all(cm.is_terminal(code, "2018") and code.startswith("E11.") for code in children)


def test_a_candidate_under_the_category_is_preferred_to_the_unspecified_child(cm: Catalog) -> None:
    ruled = SpecificityRule(cm, "2018", "es").apply(proposed("E11", cm, ("J18.9", "E11.65")))
    assert ruled.code == "E11.65" and [c.code for c in ruled.candidates][:1] == ["E11.65"]
    assert "J18.9" in [c.code for c in ruled.candidates]  # the other candidates stay, after the children


def test_the_unspecified_child_is_found_down_the_tree(cm: Catalog) -> None:
    rule = SpecificityRule(cm, "2018", "es")
    assert rule.apply(proposed("I48", cm)).code == "I48.91"  # "Unspecified atrial fibrillation"
    assert rule.apply(proposed("J18", cm)).code == "J18.9"
    assert SpecificityRule(cm, "2026", "es").apply(proposed("R51", cm)).code == "R51.9"


def test_a_code_the_version_lacks_becomes_its_ancestor_there(cm: Catalog) -> None:
    ruled = SpecificityRule(cm, "2018", "es").apply(proposed("R51.9", cm, stage=Stage.FUZZY))
    assert ruled.code == "R51" and ruled.title == "Cefalea" and NEEDS_SPECIFIC_CODE not in ruled.provenance
    assert ruled.provenance["version_mapped"] == "R51.9"


def test_a_code_with_no_ancestor_in_the_version_is_not_assigned(cm: Catalog) -> None:
    ruled = SpecificityRule(cm, "2018", "es").apply(proposed("U07.1", cm, stage=Stage.LLM))  # COVID-19: FY2020
    assert ruled.code is None and ruled.status is ReviewStatus.NEEDS_REVIEW
    assert ruled.candidates[0].code == "U07.1" and "not a code of" in ruled.provenance["specificity"]


def test_terminal_codes_pass_unchanged(cm: Catalog) -> None:
    assignment = proposed("R51", cm)
    assert SpecificityRule(cm, "2018", "es").apply(assignment) is assignment


def test_the_pipeline_assigns_only_terminal_codes_in_its_version() -> None:
    text = "Paciente con diabetes mellitus tipo 2, migraña y cefalea. Refiere dispareunia."
    for version in ("2018", "2026"):
        # The dictionary's evidence for "dispareunia" is only N94.1, which has children.
        pipeline = Pipeline.bundled("es", exclude=frozenset({"codiesp-dev"}), version=version)
        result = pipeline.code(Document("d", text, "es"))
        coded = [a for a in result.assignments if a.code]
        assert len(coded) >= 4
        assert all(pipeline.catalog.is_terminal(a.code, version) for a in coded), [a.code for a in coded]
        dyspareunia = next(a for a in coded if a.mention.text == "dispareunia")
        assert (dyspareunia.code, dyspareunia.provenance[NEEDS_SPECIFIC_CODE]) == ("N94.10", "N94.1")
        assert dyspareunia.status is ReviewStatus.NEEDS_REVIEW
    headache = next(a for a in result.assignments if a.mention.text == "cefalea")
    assert headache.code == "R51.9" and headache.provenance[NEEDS_SPECIFIC_CODE] == "R51"


@pytest.mark.parametrize("mode", ["gold", "detect"])
def test_eval_over_codiesp_dev_assigns_no_non_terminal_code(mode: str, capsys: pytest.CaptureFixture[str],
                                                            user_dirs: Path) -> None:
    """The issue's CLI check: every code assigned over CodiEsp dev is terminal in CIE-10-ES 2018."""
    assert main(["eval", str(DEV), "--mentions", mode, "--dictionary-exclude", "dev"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("non-terminal codes assigned:"))
    assigned = int(line.split(" of ")[1].split()[0])
    assert line.startswith("non-terminal codes assigned: 0 of ") and assigned > 2000, line
    assert "cm 2018: CIE-10-ES 2018" in line
