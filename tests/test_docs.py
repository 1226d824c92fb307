"""README.md and docs/: the front door stays short and runnable from its first screen, every link resolves, every
command the pages name exists, and docs/params.md is what scripts/params_doc.py writes from the params models."""

from __future__ import annotations

import importlib.util
import re

import pytest

from testkit import ROOT

README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
FIRST_SCREEN = 40
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def code_of(markdown: str) -> str:
    """The fenced blocks and inline code spans of a page: where commands are written."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.M | re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S))
    return "\n".join(fenced + spans)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", text(path), flags=re.M | re.S),
                                        re.M)}


def test_readme_is_at_most_250_lines():
    lines = text(README).splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail to docs/ (at most 250)"


def test_first_screen_holds_the_two_commands_ci_runs_and_the_own_csv_commands():
    screen = "\n".join(text(README).splitlines()[:FIRST_SCREEN])
    ci = [re.sub(r"\s+#.*$", "", line).strip() for line in text(ROOT / ".ci" / "run").splitlines()]
    ci = [line for line in ci if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["bash scripts/setup.sh", "source .venv/bin/activate && python -m pytest"], ci
    assert "bash scripts/setup.sh && source .venv/bin/activate && dvc repro" in screen
    assert all(line in screen for line in ci), f"the first {FIRST_SCREEN} lines of README.md lack {ci}"
    own = [c for c in re.findall(r"^dvc exp run [^\n#]*", screen, re.M)
           if all(k in c for k in ("generate.provider=csv", "generate.csv.path=", "generate.csv.text_column="))]
    assert len(own) == 1, f"the first {FIRST_SCREEN} lines of README.md: expected the own-CSV command, found {own}"
    path = re.search(r"generate\.csv\.path=(\S+)", own[0]).group(1)
    assert re.search(rf"^cp \S+ {re.escape(path)}", screen, re.M), f"no line copying a CSV to {path} before it"
    assert "reports/report.md" in screen.split(own[0])[1], "the first screen says where the result is"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file_and_its_heading(page):
    for target in LINK.findall(text(page)):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        where = f"{page.relative_to(ROOT)}: link {target}"
        assert path.exists(), f"{where}: no file {path}"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{where}: no heading with that anchor in {path.name}"


def test_readme_links_every_docs_page():
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in LINK.findall(text(README))}
    assert [p for p in PAGES if p.resolve() not in linked] == []


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_named_modules_and_verbs_exist(page):
    from stages.tools.__main__ import VERBS

    code = code_of(text(page))
    for module in re.findall(r"python -m (stages(?:\.\w+)*)", code):
        assert importlib.util.find_spec(module) is not None, f"{page.name}: `python -m {module}`: no such module"
    for verb in re.findall(r"(?:^|[\s;&|(])synthbert +([a-z][\w-]*)", code, re.M):
        assert verb in VERBS, f"{page.name}: `synthbert {verb}`: no such verb (known: {', '.join(VERBS)})"


def test_params_reference_is_current():
    spec = importlib.util.spec_from_file_location("params_doc", ROOT / "scripts" / "params_doc.py")
    params_doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(params_doc)
    assert text(ROOT / "docs" / "params.md") == params_doc.render(), \
        "docs/params.md is stale: run `python scripts/params_doc.py` and commit docs/params.md"


def test_params_reference_names_every_key_with_a_meaning():
    from stages.core.params import SECTIONS

    reference = text(ROOT / "docs" / "params.md")
    for name in SECTIONS:
        assert f"\n## {name}\n" in reference
    assert "| `learning_rate` | number | `5e-05` | peak learning rate of AdamW" in reference
    assert re.findall(r"^\| `\w+` \|[^\n]*\|  \|$", reference, re.M) == [], "a key without a meaning"
