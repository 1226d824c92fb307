#!/usr/bin/env bash
# Re-pin requirements.lock: resolve the newest versions that pyproject.toml allows (runtime and dev
# dependencies) for Python 3.11 on this platform, without installing anything, and write them sorted.
# torch's CUDA-only dependencies (nvidia-*, triton, cuda-*) are left out: setup.sh installs torch first
# in the build that fits the machine, and a CUDA build of torch pins those itself.
# Afterwards: `git diff requirements.lock`, `bash scripts/setup.sh`, `python -m pytest`, then commit
# pyproject.toml and requirements.lock together.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the lock is for Python 3.11, found " + sys.version.split()[0]'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
PIP=("$tmp/venv/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip   # --report and wheel metadata without downloading the wheels
"${PIP[@]}" install -q --dry-run --ignore-installed --report "$tmp/report.json" ".[dev]"

"$tmp/venv/bin/python" - "$tmp/report.json" > "$tmp/requirements.lock" <<'PY'
import json, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

installs = [i["metadata"] for i in json.load(open(sys.argv[1], encoding="utf-8"))["install"]]
pins = {norm(m["name"]): f'{m["name"]}=={m["version"]}' for m in installs if norm(m["name"]) != "synthbert"}
required_by = {name: set() for name in pins}
for m in installs:
    for req in m.get("requires_dist") or []:
        dep = norm(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
        if dep in required_by:
            required_by[dep].add(norm(m["name"]))
# CUDA-only: an nvidia-*/cuda-*/triton package that only torch or other CUDA-only packages require
# (nvidia-ml-py, which dvclive requires, stays).
cuda_only = set()
while True:
    more = {n for n in pins if re.match(r"^(nvidia-|cuda-|triton$)", n) and n not in cuda_only
            and required_by[n] <= {"torch"} | cuda_only}
    if not more:
        break
    cuda_only |= more
print("# Exact versions installed by scripts/setup.sh and CI. Refresh with scripts/refresh-lock.sh.")
print("# torch is installed first by setup.sh in the build that fits the machine (CPU or CUDA).")
for line in sorted((pins[n] for n in pins if n not in cuda_only), key=lambda s: s.upper().encode()):
    print(line)
PY
mv "$tmp/requirements.lock" requirements.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) pins); review: git diff requirements.lock"
