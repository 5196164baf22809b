"""Hostile model files through the real command line, each inside an enforced time and memory bound.

Every case is generated here (tests/ggufwriter.py writes the GGUF), run as
``python -m engine models import …`` or ``python -m engine code … --model …`` by
tests/bounded.py (killed at the deadline, address space capped), and must end in
one ``icdlinker: [ICD-E…]`` line, no traceback, and a store that still holds the
model registered before.  ``-s`` prints what each case used, for the README's table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.models import ModelStore
from engine.models.vetting import RENDER_SECONDS
from tests.bounded import Bounded, python_argv, run_bounded
from tests.ggufwriter import F32, UINT32, gguf_bytes, tiny_metadata


@dataclass(frozen=True)
class Case:
    name: str
    content: Callable[[], bytes]  # built when the case runs: some are 80 MB
    code: str
    says: str
    seconds: float  # the enforced bound, not an expectation of speed
    memory_mb: int = 3072  # address space (RLIMIT_AS) of the CLI process


def _template(source: str) -> Callable[[], bytes]:
    return lambda: gguf_bytes(tiny_metadata(vocabulary=100, tokenizer__chat_template=source))


_LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
_MEMORY_BOMB = "{% set s = 'x' * 10**9 %}{% set t = s ~ s ~ s ~ s ~ s ~ s %}{{ t }}"
_HUGE_PROMPT = "{% for i in range(3000) %}{{ messages[-1].content }}{% endfor %}"
_CASES = [
    Case("template: endless loop", _template(_LOOP), "ICD-E307", f"not finish in {RENDER_SECONDS:g} s", 60),
    Case("template: memory bomb", _template(_MEMORY_BOMB), "ICD-E307", "needs more than 512 MB", 60),
    Case("template: huge prompt", _template(_HUGE_PROMPT), "ICD-E307", "characters (at most", 60),
    Case("template: 5 MB of text", _template("{#" + "x" * (5 * 1024**2) + "#}"),
         "ICD-E307", "chat template is 5,242,884 bytes long", 30),
    Case("2 M zero-size tensors (80 MB)",
         lambda: gguf_bytes(tiny_metadata(vocabulary=10), ((f"t{i}", [0], F32) for i in range(2_000_000))),
         "ICD-E302", "announces 2,000,000 tensors", 30),
    Case("context_length 2**32 - 1",
         lambda: gguf_bytes(tiny_metadata(llama__context_length=(UINT32, 2**32 - 1))),
         "ICD-E302", "llama.context_length is 4,294,967,295", 30),
]


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    """A store holding one good model, which every case must leave registered."""
    good = tmp_path / "good.gguf"
    good.write_bytes(gguf_bytes())
    store = ModelStore(tmp_path / "store")
    store.import_file(good)
    return store


def _refused(result: Bounded, case: Case) -> str:
    """The single error line; fails unless the run ended in bounds with one clear message."""
    assert not result.timed_out and result.returncode == 2, result.describe()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"icdlinker: [{case.code}] "), result.describe()
    assert case.says in lines[0] and "Traceback" not in result.stdout + result.stderr
    print(f"\n{case.name}: {case.code} in {result.seconds:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB "
          f"(bounds {case.seconds:g} s, {case.memory_mb} MB address space)")
    return lines[0]


def _intact(store: ModelStore) -> None:
    assert [m.id for m in ModelStore(store.root).list()] == ["good"]
    assert sorted(p.name for p in store.root.glob("*.gguf*")) == ["good.gguf"]  # nothing half-copied


@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
def test_import_refuses_a_hostile_model(case: Case, store: ModelStore, tmp_path: Path) -> None:
    path = tmp_path / "hostile.gguf"
    path.write_bytes(case.content())
    result = run_bounded(python_argv("models", "import", str(path)), timeout_s=case.seconds,
                         max_memory_mb=case.memory_mb, env={"ICDLINKER_MODELS_DIR": str(store.root)})
    _refused(result, case)
    _intact(store)


@pytest.mark.parametrize("case", [_CASES[0], _CASES[5]], ids=["template loop", "context_length"])
def test_loading_refuses_a_hostile_model_that_was_never_imported(case: Case, tmp_path: Path) -> None:
    """``code --model FILE`` loads a file the store never checked: the same bounds apply before llama.cpp."""
    path = tmp_path / "hostile.gguf"
    path.write_bytes(case.content())
    document = tmp_path / "note.txt"
    document.write_text("Varón de 70 años con *disnea de esfuerzo*.\n", encoding="utf-8")
    result = run_bounded(python_argv("code", str(document), "--marked", "--model", str(path)),
                         timeout_s=case.seconds, max_memory_mb=case.memory_mb,
                         env={"ICDLINKER_MODELS_DIR": str(tmp_path / "store")})
    _refused(result, case)
