"""The pinned environment: requirements.lock pins every dependency exactly, agrees with pyproject.toml's
ranges and with what is installed, and setup.sh / CI install from it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from testkit import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.!]*)$")  # no local tag, URL or path


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_lines() -> list[str]:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def pins() -> dict[str, str]:
    return {norm(PIN.match(line).group(1)): PIN.match(line).group(2) for line in lock_lines()}


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_lock_is_exact_unique_and_sorted_like_refresh_lock_writes_it():
    lines = lock_lines()
    bad = [line for line in lines if not PIN.match(line)]
    assert bad == [], f"not an exact pin: {bad[:3]}"
    names = [norm(PIN.match(line).group(1)) for line in lines]
    assert len(names) == len(set(names))
    assert lines == sorted(lines, key=lambda s: s.upper().encode())  # `LC_ALL=C sort -f`
    assert not any(n.startswith("nvidia-cu") or n == "triton" for n in names)  # CUDA-only: torch pins those


def test_every_pyproject_dependency_is_pinned_within_its_range():
    locked = pins()
    for req in pyproject_requirements():
        if req.marker and not req.marker.evaluate():
            continue
        assert norm(req.name) in locked, f"{req.name} is in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(locked[norm(req.name)], prereleases=True), \
            f"requirements.lock pins {req.name}=={locked[norm(req.name)]}, outside pyproject's {req.specifier}"


def test_installed_versions_are_the_locked_ones():
    wrong = []
    for name, version in pins().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (lock {version})")
            continue
        if Version(have).public != Version(version).public:  # torch 2.13.0+cpu is torch==2.13.0
            wrong.append(f"{name}: installed {have}, lock {version}")
    assert wrong == [], "run scripts/setup.sh (or refresh the lock): " + "; ".join(wrong)


def test_every_third_party_import_of_the_package_is_a_declared_dependency():
    declared = {norm(r.name) for r in pyproject_requirements()}
    dists = metadata.packages_distributions()
    missing = set()
    for path in sorted((ROOT / "stages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for top in {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"stages"}:
                if not {norm(d) for d in dists.get(top, [top])} & declared:
                    missing.add(f"{top} ({path.name})")
    assert not missing, f"imported but not in pyproject.toml dependencies: {sorted(missing)}"


@pytest.mark.parametrize("script", ["scripts/setup.sh", "scripts/refresh-lock.sh", ".ci/run"])
def test_scripts_parse(script):
    proc = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_setup_and_ci_install_from_the_lock():
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "install -q -r requirements.lock" in setup and "--no-deps -e ." in setup
    assert "bash scripts/setup.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/setup.sh" in (ROOT / "README.md").read_text(encoding="utf-8")
