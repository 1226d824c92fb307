"""What produced an artifact: Python and package versions, the git revision and the device.

`collect()` returns a flat, JSON-ready dict for reports/report.md and the model card. It holds no
absolute paths, user or host names. Versions come from installed package metadata (no heavy import);
only the device needs torch.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# Distributions whose versions change results or reports, in the order a reader expects them.
PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "accelerate", "scikit-learn", "numpy", "pandas",
            "lime", "openai", "dvc", "dvclive")
# Tracked files that every run rewrites: changes to them do not make the code or params "dirty".
RUN_OUTPUTS = ("dvc.lock",)
RUN_OUTPUT_DIRS = ("reports/",)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(root: str | Path = ".") -> dict[str, Any]:
    """`git_rev`: the commit checked out (None outside a git repository); `git_dirty`: whether tracked
    files other than pipeline outputs (dvc.lock, reports/) differ from it, e.g. an edited params.yaml."""
    root = Path(root)
    rev = _git(root, "rev-parse", "HEAD")
    if rev is None:
        return {"git_rev": None, "git_dirty": None}
    status = _git(root, "status", "--porcelain", "--untracked-files=no") or ""
    changed = [line[3:].split(" -> ")[-1].strip('"') for line in status.splitlines() if line.strip()]
    dirty = any(p not in RUN_OUTPUTS and not p.startswith(RUN_OUTPUT_DIRS) for p in changed)
    return {"git_rev": rev.strip(), "git_dirty": dirty}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str | None = None) -> dict[str, Any]:
    """The device that ran (given, or "cuda" when torch sees a GPU, else "cpu"), its name, CUDA/cuDNN
    versions and torch's CPU thread count (CPU results can differ in the last bits across thread counts)."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.startswith("cuda") and torch.cuda.is_available()
    return {
        "device": device,
        "device_name": torch.cuda.get_device_name(torch.device(device)) if gpu else _cpu_name(),
        "cuda": torch.version.cuda if gpu else None,
        "cudnn": torch.backends.cudnn.version() if gpu else None,
        "torch_threads": torch.get_num_threads(),
    }


def collect(root: str | Path = ".", device: str | None = None) -> dict[str, Any]:
    """Everything above in one flat dict: python, platform, package versions, git_rev, git_dirty, device..."""
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        **package_versions(),
        **git_state(root),
        **device_info(device),
    }
