"""Every hostile document case through the real command line, under a time and memory bound.

Each must end inside its bound with exactly the ``ICD-…`` lines its case
names (one per bad input), no traceback, the right exit code, and nothing
else lost (see tests/hostile_corpus.py).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bounded import run_bounded
from tests.hostile_corpus import HostileCase, cases, remove_tree

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def case_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "case"
    folder.mkdir()
    yield folder
    remove_tree(tmp_path)  # bottom up: some cases nest 1,200 folders or lock them
    tmp_path.mkdir()


@pytest.mark.parametrize("case", cases("documents"), ids=lambda case: case.name)
def test_hostile_document_ends_clearly_within_its_bound(case: HostileCase, case_folder: Path) -> None:
    expect = case.build(case_folder)
    result = run_bounded(expect.argv, timeout_s=expect.timeout_s, max_memory_mb=expect.max_memory_mb,
                         env={"PYTHONPATH": str(ROOT)})
    print(f"{case.name}: {result.describe()}")  # the figures for the README's reliability table
    assert not result.timed_out, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    assert result.returncode == expect.returncode, result.describe()
    coded_lines = [line for line in result.stderr.splitlines() if "[ICD-" in line]
    assert len(coded_lines) == len(expect.lines), result.describe()
    for code, text in expect.lines:
        assert sum(f"[{code}]" in line and text in line for line in coded_lines) == 1, (code, text, result.describe())
    if expect.check is not None:
        expect.check(result)
