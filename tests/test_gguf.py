"""GGUF validation: good files give their facts, every damaged or foreign file one ModelFileError."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.errors import ModelFileError
from engine.models.gguf import read_gguf_info
from tests.ggufwriter import F32, TEMPLATE, gguf_bytes, tiny_metadata


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def refused(path: Path) -> str:
    with pytest.raises(ModelFileError) as caught:
        read_gguf_info(path)
    message = str(caught.value)
    assert message.startswith("[ICD-E302] ") and "\n" not in caught.value.message
    return caught.value.message


def test_a_complete_file_gives_its_facts(tmp_path: Path) -> None:
    path = write(tmp_path / "tiny.gguf", gguf_bytes())
    info = read_gguf_info(path)
    assert (info.architecture, info.name, info.version) == ("llama", "tiny test model", 3)
    assert (info.context_length, info.n_layers, info.embedding_length) == (2048, 2, 64)
    assert (info.head_count, info.head_count_kv, info.chat_template) == (4, 2, TEMPLATE)
    assert (info.tensor_count, info.file_type) == (3, "Q8_0")
    assert info.parameter_count == 64 * 40 + 64 * 64 + 64 * 8
    assert info.file_size == path.stat().st_size
    assert info.kv_embedding_length == 2 * 64 * 2 // 4  # K and V: embedding × kv heads / heads each


def test_version_2_and_a_missing_chat_template_are_fine(tmp_path: Path) -> None:
    metadata = {"general.architecture": "qwen2", "qwen2.context_length": 4096, "qwen2.block_count": 1,
                "qwen2.embedding_length": 32}
    info = read_gguf_info(write(tmp_path / "m.gguf", gguf_bytes(metadata, [("w", [32, 2], F32)], version=2)))
    assert info.version == 2
    assert (info.chat_template, info.name, info.head_count, info.file_type) == (None, None, None, None)


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in refused(write(tmp_path / "empty.gguf", b""))


def _cut_points(content: bytes) -> dict[str, int]:
    table = content.index(b"token_embd.weight") - 8
    return {
        "the header": 10,
        "the metadata": content.index(b"token2500"),
        "the tensor table": table + 20,
        "the tensor data": len(content) - 1,
    }


@pytest.mark.parametrize("where", ["the header", "the metadata", "the tensor table", "the tensor data"])
def test_truncated_files_say_where_they_end(tmp_path: Path, where: str) -> None:
    content = gguf_bytes()
    message = refused(write(tmp_path / "cut.gguf", content[: _cut_points(content)[where]]))
    assert "truncated" in message
    if where == "the tensor data":
        assert "tensor data is incomplete" in message
    else:
        assert f"ends inside {where}" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        (b"Patient admitted with chest pain.\n" * 5, "text file"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "HTML"),
        (b"PK\x03\x04" + bytes(100), "ZIP"),
        (bytes(range(256)), "something else"),
    ],
)
def test_renamed_files_say_what_they_are(tmp_path: Path, content: bytes, expected: str) -> None:
    message = refused(write(tmp_path / "x.gguf", content))
    assert "not a GGUF model file" in message and expected in message


@pytest.mark.parametrize(
    ("version", "expected"), [(1, "version 1 is not supported (too old"), (99, "version 99 is")]
)
def test_unsupported_versions(tmp_path: Path, version: int, expected: str) -> None:
    assert expected in refused(write(tmp_path / "v.gguf", gguf_bytes(version=version)))


def test_big_endian_files(tmp_path: Path) -> None:
    content = gguf_bytes()
    content = content[:4] + struct.pack(">I", 3) + content[8:]
    assert "big-endian" in refused(write(tmp_path / "be.gguf", content))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"general.architecture": None}, "no general.architecture"),
        ({"llama.context_length": None}, "llama.context_length is missing"),
        ({"llama.block_count": "two"}, "llama.block_count is invalid"),
    ],
)
def test_metadata_llama_cpp_needs(tmp_path: Path, change: dict, expected: str) -> None:
    metadata = {"general.architecture": "llama", "llama.context_length": 512, "llama.block_count": 1,
                "llama.embedding_length": 32}
    metadata = {k: v for k, v in {**metadata, **change}.items() if v is not None}
    assert expected in refused(write(tmp_path / "m.gguf", gguf_bytes(metadata, [("w", [32], F32)])))


def test_no_tensors_and_unknown_tensor_types(tmp_path: Path) -> None:
    assert "no tensors" in refused(write(tmp_path / "vocab.gguf", gguf_bytes(tensors=[])))
    content = gguf_bytes(tensors=[("w", [32], F32)])
    at = content.index(b"\x01\x00\x00\x00" + struct.pack("<Q", 32)) + 12  # after n_dims and dims
    content = content[:at] + struct.pack("<I", 77) + content[at + 4 :]
    assert "unknown data type (77)" in refused(write(tmp_path / "new.gguf", content))


def test_missing_files_and_folders(tmp_path: Path) -> None:
    assert "cannot be read" in refused(tmp_path / "absent.gguf")
    assert "cannot be read" in refused(tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_gives_a_model_file_error_or_a_valid_file(tmp_path: Path, data: st.DataObject) -> None:
    content = bytearray(gguf_bytes(vocabulary=300))
    for _ in range(data.draw(st.integers(1, 4))):
        content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    content = content[: data.draw(st.integers(0, len(content)))]
    path = write(tmp_path / "damaged.gguf", bytes(content))
    try:
        read_gguf_info(path)
    except ModelFileError:
        pass


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (gguf_bytes({f"key{i}": i for i in range(20_000)}, [("w", [32], F32)]), "announces 20,000 metadata entries"),
        (gguf_bytes(tiny_metadata(llama__block_count=100_000)), "llama.block_count is 100,000"),
        (gguf_bytes(tensors=[("w" * 64, [32], F32)]), "a tensor name of 64 bytes"),
    ],
    ids=["metadata keys", "layers", "tensor name"],
)
def test_implausible_headers_are_refused_before_llama_cpp_sees_them(tmp_path: Path, content: bytes,
                                                                     expected: str) -> None:
    assert expected in refused(write(tmp_path / "hostile.gguf", content))
