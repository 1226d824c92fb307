#!/usr/bin/env bash
# Create .venv and install synthbert with the exact versions in requirements.lock.
# PyTorch is chosen for the machine: the CPU build where no NVIDIA GPU is visible (a plain `torch`
# requirement would pull several GB of CUDA packages), the default CUDA build where one is.
# Override with SYNTHBERT_TORCH=cpu or SYNTHBERT_TORCH=cuda.
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
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing ${TORCH} (${target} build)"
  if [ "$target" = cpu ]; then
    # PyTorch's own index serves the CPU wheels (local version +cpu); a local find-links copy works too.
    "${PIP[@]}" install -q --retries 2 "${TORCH}+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
  else
    "${PIP[@]}" install -q "${TORCH}"
  fi
fi
echo "setup: installing the locked dependencies"
"${PIP[@]}" install -q -r requirements.lock
"${PIP[@]}" install -q --no-deps -e .
.venv/bin/python -c "import torch, transformers, dvc; print(f'setup: ok (torch {torch.__version__}, transformers {transformers.__version__}, cuda={torch.cuda.is_available()})')"
