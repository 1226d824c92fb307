#!/usr/bin/env bash
# Create .venv and install synthbert with the exact versions in requirements.lock (what CI installs).
# PyTorch is chosen for the machine: the CPU build where no NVIDIA GPU is visible (a plain `torch`
# requirement would pull several GB of CUDA packages), the default CUDA build where one is.
# Override with SYNTHBERT_TORCH=cpu or SYNTHBERT_TORCH=cuda. Without access to download.pytorch.org,
# point pip at a folder of wheels: PIP_FIND_LINKS=/path/to/wheels bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "synthbert needs Python 3.11, found " + sys.version.split()[0]'

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check)

TORCH=$(grep -E '^torch==' requirements.lock)            # e.g. torch==2.13.0
target=${SYNTHBERT_TORCH:-auto}
if [ "$target" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then target=cuda; else target=cpu; fi
fi
# The installed torch without its local build tag (2.13.0+cpu -> 2.13.0), empty when there is none.
have=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("torch").split("+")[0])' 2>/dev/null || true)
if [ "torch==${have}" != "$TORCH" ]; then
  echo "setup: installing ${TORCH} (${target} build)"
  if [ "$target" = cpu ] && [ "$(uname -s)" = Linux ]; then
    # PyTorch's own index serves the Linux CPU wheels (local version +cpu); macOS wheels on PyPI are CPU-only.
    "${PIP[@]}" install -q --retries 2 "${TORCH}+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
  else
    "${PIP[@]}" install -q "${TORCH}"
  fi
fi
echo "setup: installing the locked dependencies (requirements.lock)"
"${PIP[@]}" install -q -r requirements.lock
"${PIP[@]}" install -q --no-deps -e .
.venv/bin/python -c "import torch, transformers, dvc; print(f'setup: ok (torch {torch.__version__}, transformers {transformers.__version__}, cuda={torch.cuda.is_available()})')"
