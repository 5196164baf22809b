"""Check a GGUF model file before llama.cpp ever opens it.

llama.cpp aborts, or worse, on some damaged files, and its messages are not for a
clinical coder.  This reads the header, the metadata and the tensor table with a
small parser and checks that every tensor's data lies inside the file, so a
truncated download or a renamed image is refused with one clear line.  (The
``gguf`` package's ``GGUFReader`` needs about 40 s on a 2-core machine for the
262k-token vocabulary of a 250 MB model and reports truncation as a numpy
reshape error, hence our own reader: about 0.2 s for the same file.)

Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import ModelFileError, ModelTemplateError

__all__ = ["GGUFInfo", "read_gguf_info"]

SUPPORTED_VERSIONS = (2, 3)
_DEFAULT_ALIGNMENT = 32
_MAX_DIMS = 4  # GGML_MAX_DIMS

# Metadata value types with a fixed size, as struct formats (little-endian).
_SCALAR_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), as GGML_QUANT_SIZES in gguf-py 0.19.
_QK_K = 256
_TENSOR_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 40),
    10: (_QK_K, 84), 11: (_QK_K, 110), 12: (_QK_K, 144), 13: (_QK_K, 176), 14: (_QK_K, 210), 15: (_QK_K, 292),
    16: (_QK_K, 66), 17: (_QK_K, 74), 18: (_QK_K, 98), 19: (_QK_K, 50), 20: (32, 18), 21: (_QK_K, 110),
    22: (_QK_K, 82), 23: (_QK_K, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (_QK_K, 56), 30: (1, 2), 34: (_QK_K, 54), 35: (_QK_K, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}

# general.file_type (llama_ftype in llama.h) → the quantization name people know.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}

# What a file that is not GGUF usually is, to say so instead of "bad magic".
_OTHER_FORMATS = {
    b"\x89PNG": "a PNG image", b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive (.docx, .xlsx, .zip)",
    b"\xff\xd8\xff": "a JPEG image", b"GGML": "an old GGML model (convert it to GGUF)",
    b"GGJT": "an old GGJT model (convert it to GGUF)", b"<": "an HTML or XML page (a proxy or login page?)",
}

# Arrays longer than this are per-token tables (vocabulary, scores): skipped, not kept.
_MAX_KEPT_ARRAY = 4096

# Bounds on what a hostile header can make llama.cpp (or this reader) do.  The largest
# published models have ~1,600 tensors, ~60 metadata keys, vocabularies of ~260k tokens,
# chat templates under 100 KB and trained contexts up to 10M tokens (Llama 4 Scout).
# llama.cpp checks tensor and key names for duplicates pairwise (quadratic: 2M tensors
# did not load in 240 s) and keeps n_ctx_train in an int32 (2**32 - 1 reads as -1).
_MAX_TENSORS = 16_384
_MAX_METADATA_KEYS = 16_384
_MAX_STRING_ARRAY = 1 << 22
_MAX_KEPT_STRING = 1 << 20  # longer strings are skipped; a longer chat template is refused
_MAX_TENSOR_NAME = 63  # GGML_MAX_NAME - 1
_MAX_CONTEXT = 1 << 24
_MAX_LAYERS = 4096


@dataclass(frozen=True)
class GGUFInfo:
    """What the store, the memory estimate and the GUI need to know about a model file."""

    path: Path
    file_size: int
    version: int
    architecture: str
    name: str | None
    context_length: int
    n_layers: int
    embedding_length: int
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    chat_template: str | None
    tensor_count: int
    parameter_count: int
    file_type: str | None
    size_label: str | None

    @property
    def kv_embedding_length(self) -> int:
        """Key plus value width per token and layer (n_embd_k_gqa + n_embd_v_gqa in llama.cpp)."""
        heads = self.head_count or 1
        kv_heads = self.head_count_kv or heads
        head_dim = self.embedding_length // heads
        return kv_heads * ((self.key_length or head_dim) + (self.value_length or head_dim))


def read_gguf_info(path: Path | str) -> GGUFInfo:
    """Validate ``path`` as a complete GGUF model; raises ModelFileError saying what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            size = path.stat().st_size
            if size == 0:
                raise ModelFileError(f"{path.name}: the file is empty (0 bytes)")
            with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
                return _parse(path, _Reader(buffer, size, path.name))
    except OSError as error:  # missing, unreadable, or a folder
        raise ModelFileError(f"{path.name}: cannot be read ({error.strerror or error})") from None


@dataclass(frozen=True)
class _Skipped:
    """A string too long to keep: only its length."""

    length: int


class _Reader:
    """Bounds-checked little-endian reads; running off the end means the file is cut short."""

    def __init__(self, buffer: mmap.mmap, size: int, name: str) -> None:
        self.buffer, self.size, self.name, self.pos = buffer, size, name, 0
        self.section = "the header"

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.name}: {what}")

    def truncated(self) -> ModelFileError:
        return self.fail(f"the file ends inside {self.section} (truncated download or copy?)")

    def take(self, length: int) -> int:
        start = self.pos
        if start + length > self.size:
            raise self.truncated()
        self.pos = start + length
        return start

    def scalar(self, fmt: str) -> int | float | bool:
        fmt = "<" + fmt
        return struct.unpack_from(fmt, self.buffer, self.take(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        return int(self.scalar("I"))

    def u64(self) -> int:
        return int(self.scalar("Q"))

    def string(self, limit: int = _MAX_KEPT_STRING) -> str | _Skipped:
        """A UTF-8 string; one longer than ``limit`` is skipped (only its length is kept)."""
        length = self.u64()
        start = self.take(length)
        if length > limit:
            return _Skipped(length)
        return self.buffer[start : start + length].decode("utf-8", errors="replace")

    def value(self, kind: int) -> object:
        """One metadata value; long arrays (per-token tables) are skipped and give None."""
        if kind in _SCALAR_FORMATS:
            return self.scalar(_SCALAR_FORMATS[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise self.fail(f"damaged metadata (unknown value type {kind} in {self.section})")
        item_kind, count = self.u32(), self.u64()
        if item_kind in _SCALAR_FORMATS:
            item_format = _SCALAR_FORMATS[item_kind]
            start = self.take(count * struct.calcsize(item_format))
            if count > _MAX_KEPT_ARRAY:
                return None
            return list(struct.unpack_from(f"<{count}{item_format}", self.buffer, start))
        if item_kind != _STRING:  # llama.cpp reads no nested arrays either
            raise self.fail(f"damaged metadata (array of type {item_kind} in {self.section})")
        if count > _MAX_STRING_ARRAY:
            raise self.fail(f"implausible metadata ({count:,} strings in one array in {self.section})")
        if count > _MAX_KEPT_ARRAY:
            self._skip_strings(count)
            return None
        return [self.string() for _ in range(count)]

    def _skip_strings(self, count: int) -> None:
        """The hot loop: a Gemma 3 vocabulary is 262k strings."""
        unpack, buffer, pos, size = struct.Struct("<Q").unpack_from, self.buffer, self.pos, self.size
        for _ in range(count):
            if pos + 8 > size:
                raise self.truncated()
            pos += 8 + unpack(buffer, pos)[0]
        if pos > size:
            raise self.truncated()
        self.pos = pos


def _parse(path: Path, reader: _Reader) -> GGUFInfo:
    head = reader.buffer[:8]
    if head[:4] != b"GGUF":
        raise reader.fail(f"not a GGUF model file; it looks like {_describe(head)}")
    reader.take(4)
    version = reader.u32()
    if version not in SUPPORTED_VERSIONS:
        if struct.unpack(">I", struct.pack("<I", version))[0] in SUPPORTED_VERSIONS:
            raise reader.fail("a big-endian GGUF file, which this computer cannot use")
        too_old = " (too old for llama.cpp; convert it again)" if version == 1 else ""
        raise reader.fail(f"GGUF version {version} is not supported{too_old}; versions 2 and 3 are")
    tensor_count, kv_count = reader.u64(), reader.u64()
    announced = ((tensor_count, "tensors", _MAX_TENSORS), (kv_count, "metadata entries", _MAX_METADATA_KEYS))
    for count, what, limit in announced:
        if count > limit:
            raise reader.fail(
                f"the header announces {count:,} {what}; real models have far fewer (at most {limit:,} are "
                "accepted) and llama.cpp would take hours to load it (a damaged or hostile file)"
            )
    if kv_count * 13 + tensor_count * 24 > reader.size:  # smallest possible entries
        raise reader.fail(
            f"the file is too small for the {tensor_count:,} tensors and {kv_count:,} metadata entries "
            "its header announces (truncated or damaged)"
        )

    metadata: dict[str, object] = {}
    for index in range(kv_count):
        reader.section = f"the metadata (entry {index + 1} of {kv_count})"
        key = reader.string()
        metadata[str(key)] = reader.value(reader.u32())

    tensors = []
    for index in range(tensor_count):
        reader.section = f"the tensor table (tensor {index + 1} of {tensor_count})"
        name, n_dims = reader.string(_MAX_TENSOR_NAME), reader.u32()
        if isinstance(name, _Skipped):
            raise reader.fail(f"damaged tensor table (a tensor name of {name.length:,} bytes)")
        if n_dims > _MAX_DIMS:
            raise reader.fail(f"damaged tensor table (tensor {name!r} has {n_dims} dimensions)")
        dims = [reader.u64() for _ in range(n_dims)]
        tensors.append((name, dims, reader.u32(), reader.u64()))

    alignment = _metadata_int(reader, metadata, "general.alignment", required=False) or _DEFAULT_ALIGNMENT
    data_start = -(-reader.pos // alignment) * alignment
    data_end, parameters = data_start, 0
    for name, dims, kind, offset in tensors:
        elements, nbytes = _tensor_size(reader, name, dims, kind)
        if offset % alignment:
            raise reader.fail(f"damaged tensor table (tensor {name!r} is not aligned)")
        parameters += elements
        data_end = max(data_end, data_start + offset + nbytes)
    if data_end > reader.size:
        raise reader.fail(
            f"the tensor data is incomplete: {data_end:,} bytes needed, the file has {reader.size:,} "
            "(truncated download or copy?)"
        )
    return _info(path, reader, version, metadata, len(tensors), parameters)


def _tensor_size(reader: _Reader, name: str, dims: list[int], kind: int) -> tuple[int, int]:
    if kind not in _TENSOR_TYPES:
        raise reader.fail(f"tensor {name!r} has an unknown data type ({kind}); a newer icdlinker may read it")
    block, block_bytes = _TENSOR_TYPES[kind]
    if dims and dims[0] % block:
        raise reader.fail(f"damaged tensor table (tensor {name!r} rows do not fill whole blocks)")
    elements = 1
    for dim in dims:
        elements *= dim
    return elements, elements // block * block_bytes


def _info(
    path: Path, reader: _Reader, version: int, metadata: dict, n_tensors: int, parameters: int
) -> GGUFInfo:
    architecture = metadata.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise reader.fail("no general.architecture in the metadata: not a llama.cpp language model")
    if n_tensors == 0:
        raise reader.fail("the file holds no tensors (a vocabulary-only file?)")

    def number(key: str, required: bool = True) -> int | None:
        return _metadata_int(reader, metadata, f"{architecture}.{key}", required)

    for key, limit in (("context_length", _MAX_CONTEXT), ("block_count", _MAX_LAYERS)):
        if (value := number(key)) > limit:
            raise reader.fail(
                f"{architecture}.{key} is {value:,} in the metadata, beyond any real model "
                f"(at most {limit:,} is accepted): a damaged or hostile file"
            )
    template = metadata.get("tokenizer.chat_template")
    if isinstance(template, _Skipped):
        raise ModelTemplateError(
            f"{reader.name}: its chat template is {template.length:,} bytes long; real ones are under 100 KB"
        )
    file_type = metadata.get("general.file_type")
    return GGUFInfo(
        path=path,
        file_size=reader.size,
        version=version,
        architecture=architecture,
        name=_text(metadata.get("general.name")),
        context_length=number("context_length"),
        n_layers=number("block_count"),
        embedding_length=number("embedding_length"),
        head_count=number("attention.head_count", required=False),
        head_count_kv=number("attention.head_count_kv", required=False),
        key_length=number("attention.key_length", required=False),
        value_length=number("attention.value_length", required=False),
        chat_template=_text(template),
        tensor_count=n_tensors,
        parameter_count=parameters,
        file_type=_FILE_TYPES.get(file_type, f"type {file_type}") if isinstance(file_type, int) else None,
        size_label=_text(metadata.get("general.size_label")),
    )


def _metadata_int(reader: _Reader, metadata: dict, key: str, required: bool) -> int | None:
    """An integer setting; per-layer arrays (some models vary head counts by layer) give their maximum."""
    value = metadata.get(key)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        value = max(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if value is None and not required:
        return None
    problem = "missing" if value is None else f"invalid ({value!r})"
    raise reader.fail(f"{key} is {problem} in the metadata: llama.cpp cannot load this model")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(head: bytes) -> str:
    for magic, what in _OTHER_FORMATS.items():
        if head.startswith(magic):
            return what
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "a text file"
    return f"something else (starts with {head[:4]!r})"
