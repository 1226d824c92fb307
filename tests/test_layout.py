"""The house rules of ARCHITECTURE.md, checked on the source: seven stage modules over their workshops, small
modules and functions, each stage's import closure covered by its dvc.yaml deps, workshops that import no
stage and no other workshop's private names, and bytecode caches ignored by DVC."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from testkit import ROOT

PKG = ROOT / "stages"
STAGES = ("inputs", "generate", "split", "audit", "train", "evaluate", "explain", "report")
WORKSHOPS = ("core", "generation", "auditing", "training", "evaluation", "explanation", "tools")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def file_of(name: str) -> Path | None:
    """stages.core.cli -> stages/core/cli.py, stages.core -> stages/core/__init__.py; None if neither exists."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(path: Path) -> set[str]:
    """Every `stages.*` module `path` imports, at any depth (inside functions too), relative imports resolved;
    `from stages.x import y` counts stages.x.y when y is a module, else stages.x."""
    tree, found = ast.parse(path.read_text(encoding="utf-8")), set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "stages"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "stages":
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if file_of(f"{base}.{a.name}")}
    # Importing stages.a.b runs stages/__init__.py and stages/a/__init__.py first.
    return {".".join(n.split(".")[:i]) for n in found for i in range(1, n.count(".") + 2)}


def has_code(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the module docstring
    return bool(body)


def closure(module: str) -> set[Path]:
    seen, todo = set(), [module]
    while todo:
        path = file_of(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += sorted(imports_of(path))
    return seen


def test_stages_holds_only_the_seven_stage_modules_and_the_workshops():
    top = {p.name for p in PKG.iterdir() if p.name != "__pycache__"}  # what `ls stages/` shows
    expected = {f"{s}.py" for s in STAGES} | {"__init__.py"} | set(WORKSHOPS)
    assert top == expected, f"stages/ should hold only {sorted(expected)}: unexpected {sorted(top - expected)}, " \
                            f"missing {sorted(expected - top)}"
    for name in WORKSHOPS:
        assert (PKG / name).is_dir(), f"stages/{name} should be a folder"


def test_no_module_over_300_lines_and_no_function_over_60_lines():
    offenders = []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{rel}: {lines} lines (module, max {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                length = node.end_lineno - start + 1
                if length > MAX_FUNCTION_LINES:
                    offenders.append(f"{rel}:{node.lineno} {node.name}(): {length} lines (max {MAX_FUNCTION_LINES})")
    assert not offenders, "too long:\n" + "\n".join(offenders)


def dvc_stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


@pytest.mark.parametrize("stage", sorted(dvc_stages()))
def test_each_stage_s_deps_cover_its_import_closure(stage):
    spec = dvc_stages()[stage]
    match = re.search(r"python -m (stages(?:\.\w+)+)", " ".join(spec["cmd"].split()))
    assert match, f"{stage}: cmd should run `python -m stages.<name>`, got {spec['cmd']!r}"
    deps = [str(d) for d in spec.get("deps", [])]
    uncovered = []
    for path in sorted(closure(match[1])):
        rel = path.relative_to(ROOT).as_posix()
        if not has_code(path):  # a docstring-only package __init__ cannot change what the stage computes
            continue
        if not any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps):
            uncovered.append(rel)
    assert not uncovered, (f"dvc.yaml stage {stage!r} runs {match[1]}, which imports {', '.join(uncovered)}; "
                           f"none of its deps ({', '.join(deps)}) covers them: a change there would not rerun {stage}")


def workshop_of(path: Path) -> str | None:
    parts = path.relative_to(PKG).parts
    return parts[0] if len(parts) > 1 and parts[0] in WORKSHOPS else None


def test_workshops_import_no_stage_and_no_other_workshops_private_names():
    problems = []
    stage_modules = {f"stages.{s}" for s in STAGES}
    for path in modules():
        shop = workshop_of(path)
        if shop is None:
            continue
        rel = path.relative_to(ROOT)
        for name in sorted(imports_of(path) & stage_modules):
            problems.append(f"{rel} imports the stage {name}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stages.") and not node.level:
                other = node.module.split(".")[1]
                if other == shop or other not in WORKSHOPS:
                    continue
                private = [a.name for a in node.names if a.name.startswith("_")]
                private += [p for p in node.module.split(".")[2:] if p.startswith("_") and p != "__init__"]
                problems += [f"{rel} imports {node.module}.{n}, private to {other}/" for n in private]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in _imported_modules_of_other_shops(path, shop):
                    problems.append(f"{rel} uses {base.id}.{node.attr}, private to another workshop")
    assert not problems, "\n".join(problems)


def _imported_modules_of_other_shops(path: Path, shop: str) -> set[str]:
    """Local names bound to modules of another workshop (`from stages.evaluation import metrics` -> metrics)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stages.") and not node.level:
            parts = node.module.split(".")
            if len(parts) > 1 and parts[1] in WORKSHOPS and parts[1] != shop:
                names |= {a.asname or a.name for a in node.names if file_of(f"{node.module}.{a.name}")}
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if a.asname and len(parts) > 1 and parts[1] in WORKSHOPS and parts[1] != shop:
                    names.add(a.asname)
    return names


def test_dvcignore_ignores_bytecode_caches():
    patterns = [line.strip() for line in (ROOT / ".dvcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert any(p.strip("/").endswith("__pycache__") for p in patterns), patterns


def test_every_subprocess_in_tests_and_testkit_has_a_timeout():
    missing = []
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "testkit").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "subprocess" and \
                    node.func.attr in ("run", "call", "check_call", "check_output"):
                if not any(k.arg == "timeout" for k in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not missing, "subprocess call without timeout= at " + ", ".join(missing)
