"""Write GGUF files by hand, as the spec says, for tests: small complete models and hostile headers.

Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md.  Shared by the
reader's tests, the store's, the GUI's and the hostile-input cases.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

F32, F16, Q8_0 = 0, 1, 8
UINT32, UINT64 = 4, 10  # metadata value types
_ELEMENT_BYTES = {F32: lambda n: 4 * n, F16: lambda n: 2 * n, Q8_0: lambda n: n // 32 * 34}
TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"


def tiny_metadata(vocabulary: int = 5000, **changes: object) -> dict[str, object]:
    """The metadata of a 2-layer "llama"; ``changes`` replace keys (a None value removes one)."""
    metadata: dict[str, object] = {
        "general.architecture": "llama",
        "general.name": "tiny test model",
        "general.file_type": 7,
        "llama.context_length": 2048,
        "llama.block_count": 2,
        "llama.embedding_length": 64,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 2,
        "tokenizer.chat_template": TEMPLATE,
        "tokenizer.ggml.tokens": [f"token{i}" for i in range(vocabulary)],
        "tokenizer.ggml.scores": [0.5] * vocabulary,
    }
    metadata.update({key.replace("__", "."): value for key, value in changes.items()})
    return {key: value for key, value in metadata.items() if value is not None}


def gguf_bytes(
    metadata: dict[str, object] | None = None,
    tensors: Iterable[tuple[str, list[int], int]] | None = None,
    *,
    version: int = 3,
    vocabulary: int = 5000,
) -> bytes:
    """A small but complete GGUF file (by default a 2-layer "llama" with three tensors).

    Metadata integers are written as UINT32, or as ``(type, value)`` pairs for
    another integer type.  Tensor data is deterministic filler; zero-size tensors
    cost only their table entry, so a header of millions of them is quick to build.
    """
    metadata = tiny_metadata(vocabulary) if metadata is None else metadata
    if tensors is None:
        tensors = [("token_embd.weight", [64, 40], F32), ("blk.0.attn_q.weight", [64, 64], F16),
                   ("blk.1.ffn_up.weight", [64, 8], Q8_0)]
    table, data, offset, count = [], [], 0, 0
    for name, dims, kind in tensors:
        elements = 1
        for dim in dims:
            elements *= dim
        size, padding = _ELEMENT_BYTES[kind](elements), -offset % 32  # each tensor starts aligned
        if size or padding:  # zero-size tensors in a row cost only their table entry
            data.append(b"\0" * padding + bytes((i * 31 + len(name)) % 251 for i in range(size)))
            offset += padding
        raw = name.encode()
        table.append(struct.pack(f"<Q{len(raw)}sI{len(dims)}QIQ", len(raw), raw, len(dims), *dims, kind, offset))
        offset += size
        count += 1
    header = b"".join([b"GGUF", struct.pack("<IQQ", version, count, len(metadata)),
                       *(_string(key) + _value(value) for key, value in metadata.items()), *table])
    return header + b"\0" * (-len(header) % 32) + b"".join(data)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _value(value: object) -> bytes:
    if isinstance(value, tuple):  # (integer type, value)
        kind, number = value
        return struct.pack("<I" + ("Q" if kind == UINT64 else "I"), kind, number)
    if isinstance(value, str):
        return struct.pack("<I", 8) + _string(value)
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<II", UINT32, value)
    if isinstance(value, float):
        return struct.pack("<If", 6, value)
    kind = 8 if isinstance(value[0], str) else 6 if isinstance(value[0], float) else 5
    items = b"".join(_string(v) if kind == 8 else struct.pack("<f" if kind == 6 else "<i", v) for v in value)
    return struct.pack("<IIQ", 9, kind, len(value)) + items
