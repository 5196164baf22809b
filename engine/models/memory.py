"""Will a model fit?  Estimate its memory and compare with what this computer has free.

Loading a model that does not fit makes the workstation swap for minutes or the
process die; refusing up front with "needs ~X GB, Y GB available" is kinder.
Estimates follow llama.cpp's main costs (weights, KV cache, compute buffers) and
err on the high side; no psutil: /proc/meminfo, the Windows API or sysconf do.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import ModelMemoryError
from engine.models.gguf import GGUFInfo

__all__ = ["COMPUTE_OVERHEAD_BYTES", "MemoryEstimate", "available_ram_bytes", "available_vram_bytes",
           "check_fits", "estimate_memory"]

COMPUTE_OVERHEAD_BYTES = 300 * 1024**2  # llama.cpp compute buffers and scratch, per device in use
_KV_BYTES = 2  # f16 KV cache, llama.cpp's default
_GB = 1024**3


@dataclass(frozen=True)
class MemoryEstimate:
    ram_bytes: int
    vram_bytes: int


def estimate_memory(info: GGUFInfo, n_ctx: int, n_gpu_layers: int = 0) -> MemoryEstimate:
    """Weights and KV cache split by the share of layers offloaded (-1: all), plus compute buffers.

    The KV cache is n_layers × n_ctx × (K + V width) × 2 bytes; the K + V width is
    2 × embedding_length × head_count_kv / head_count unless the file gives head sizes.
    """
    layers = info.n_layers
    offloaded = layers if n_gpu_layers < 0 else min(max(n_gpu_layers, 0), layers)
    kv_cache = layers * n_ctx * info.kv_embedding_length * _KV_BYTES
    total = info.file_size + kv_cache
    on_gpu = total * offloaded // layers
    return MemoryEstimate(
        ram_bytes=total - on_gpu + COMPUTE_OVERHEAD_BYTES,
        vram_bytes=on_gpu + COMPUTE_OVERHEAD_BYTES if offloaded else 0,
    )


def check_fits(estimate: MemoryEstimate) -> None:
    """Raise ModelMemoryError when RAM (or readable VRAM) is short; unknown amounts are not checked."""
    for needed, available, kind in (
        (estimate.ram_bytes, available_ram_bytes(), "memory"),
        (estimate.vram_bytes, available_vram_bytes() if estimate.vram_bytes else None, "GPU memory"),
    ):
        if available is not None and needed > available:
            raise ModelMemoryError(
                f"the model needs ~{needed / _GB:.1f} GB of {kind}, {available / _GB:.1f} GB available; "
                "choose a smaller model or context"
            )


def available_ram_bytes() -> int | None:
    """Memory the OS can give without swapping, or None when it cannot be read."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    if sys.platform == "win32":
        return _windows_available_ram()
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        # macOS has no "available pages": half of physical memory is a conservative guess.
        try:
            return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
        except (AttributeError, ValueError, OSError):
            return None


def _windows_available_ram() -> int | None:
    class MemoryStatus(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
            (name, ctypes.c_ulonglong)
            for name in ("total", "available", "total_page", "available_page", "total_virtual",
                         "available_virtual", "available_extended")
        ]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.available)


def available_vram_bytes() -> int | None:
    """Free memory summed over NVIDIA GPUs via nvidia-smi; None without it (other GPUs: unknown)."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        output = subprocess.run(
            [tool, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
        return sum(int(line) for line in output.split()) * 1024**2  # MiB
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
