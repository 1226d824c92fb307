"""Numeric precision on this machine: whether its CPU multiplies bf16 natively, and the precision a forward pass
runs in (`evaluate.precision`; the train stage's choice is stages/training/controls.choose_precision).

bf16 autocast keeps the weights in fp32 and runs the matrix products in bf16: on a CPU with Intel AMX or
AVX512-BF16, or a GPU of compute capability 8.0 or more, that is much faster; elsewhere bf16 is emulated and
slower, so `auto` picks it only where it is native. Heavy imports (torch) happen inside the functions.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_bf16_native(flags: str) -> bool:
    """Whether a /proc/cpuinfo `flags` string names a native bf16 dot product (Intel AMX or AVX512-BF16).

    (torch's mkldnn bf16 check says yes on any AVX512 core, where oneDNN emulates bf16, so it is not used.)"""
    return any(flag in flags.split() for flag in CPU_BF16_FLAGS)


def cpu_flags(path: str = "/proc/cpuinfo") -> str:
    """The `flags` line of the first CPU in /proc/cpuinfo; "" where there is none (not Linux)."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_reason(flags: str) -> str:
    """How a log line names what decided a CPU's precision: its native bf16 flags, or their absence."""
    native = [f for f in CPU_BF16_FLAGS if f in flags.split()]
    return f"CPU with native bf16 ({', '.join(native)})" if native else \
        "CPU without native bf16 (no amx_bf16 or avx512_bf16 flag)"


def scoring(requested: str, device: str, capability: tuple[int, int] | None = None, cpu_bf16: bool = False) -> str:
    """fp32 or bf16 for `evaluate.precision` ("auto" | "fp32" | "bf16") on `device` ("cuda" | "cpu").

    auto: bf16 autocast where the device multiplies bf16 natively (`cpu_bf16` on a CPU; compute capability
    >= 8.0 on a GPU), fp32 elsewhere. An explicit bf16 is honoured anywhere autocast runs it."""
    if requested != "auto":
        return requested
    if device == "cuda":
        return "bf16" if capability is not None and capability >= (8, 0) else "fp32"
    return "bf16" if cpu_bf16 else "fp32"


def scoring_for(requested: str, device: str, key: str = "evaluate.precision") -> str:
    """scoring() for this machine, the choice logged with what decided it (and the params `key` asked)."""
    import torch

    capability = tuple(torch.cuda.get_device_capability()) if device == "cuda" else None
    flags = cpu_flags() if device != "cuda" else ""
    chosen = scoring(requested, device, capability, cpu_bf16_native(flags))  # type: ignore[arg-type]
    why = f"GPU of compute capability {'.'.join(map(str, capability or ()))}" if device == "cuda" \
        else cpu_reason(flags)
    log.info("scoring precision %s (%s %s): %s", chosen, key, requested, why)
    return chosen


def autocast(precision: str, device: Any) -> Any:
    """A context that runs forward passes in `precision`: bf16 autocast, or nothing for fp32."""
    if precision != "bf16":
        return contextlib.nullcontext()
    import torch

    kind = device.type if hasattr(device, "type") else str(device).split(":")[0]
    return torch.autocast(device_type=kind, dtype=torch.bfloat16)
