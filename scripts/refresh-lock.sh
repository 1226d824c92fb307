#!/usr/bin/env bash
# Re-resolve the newest versions allowed by pyproject.toml into requirements.lock, in a throw-away venv.
# Review the diff, run the tests, commit both files together.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "torch+cpu" --extra-index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
  || "$tmp/venv/bin/pip" install -q torch
"$tmp/venv/bin/pip" install -q ".[dev]"
{
  echo "# Exact versions installed by scripts/setup.sh and CI. Refresh with scripts/refresh-lock.sh."
  echo "# torch is installed first by setup.sh in the build that fits the machine (CPU or CUDA)."
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^synthbert' | sed -E 's/^(torch==[^+]+)\+.*/\1/' | sort -f
} > requirements.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) pins)"
