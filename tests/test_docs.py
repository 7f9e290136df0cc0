"""The README stays short and the pages of docs/ stay reachable and true to the tree.

The README links every page of docs/; every relative link of the README and
docs/ names a file that exists and, with `#anchor`, a heading of it; every
source path they name in backticks (`citerec/recall/plans.py`, `benchmarks/…`)
exists. Commands and options are checked by test_cli_help.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 220

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_SOURCE_PATH = re.compile(r"`((?:citerec|benchmarks|tests|scripts|notebooks|data)/[\w./-]*\w/?)`")


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(h) for h in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8")))}


def _ids(pages: list[Path]) -> list[str]:
    return [page.relative_to(REPO).as_posix() for page in pages]


def test_the_anchor_rule():
    assert anchor("The draft chooses its reading plan") == "the-draft-chooses-its-reading-plan"
    assert anchor("GPU use, Ray and performance at scale") == "gpu-use-ray-and-performance-at-scale"
    assert anchor("Fresh machine: two commands") == "fresh-machine-two-commands"


def test_readme_is_short_and_links_every_docs_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, "README.md is long: move the detail to docs/"
    assert DOCS, "docs/ holds no pages"
    missing = [page.name for page in DOCS if f"(docs/{page.name})" not in text]
    assert not missing, f"README does not link {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_relative_links_name_files_and_headings_that_exist(page: Path):
    problems = []
    for target in _LINK.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            problems.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{target}: no heading #{fragment} in {linked.name}")
    assert not problems, f"{page.name}: " + "; ".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_source_paths_named_exist(page: Path):
    named = set(_SOURCE_PATH.findall(page.read_text(encoding="utf-8")))
    missing = sorted(path for path in named if not (REPO / path).exists())
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


def _neovim_block(page: Path) -> str:
    """The Lua block after "**Neovim** 0.7–0.10", found as test_lsp_neovim.py finds the README's."""
    text = page.read_text(encoding="utf-8")
    section = text[text.index("**Neovim** 0.7–0.10") :]
    return re.search(r"```lua\n(.*?)```", section, re.S).group(1)


def test_docs_editor_holds_the_neovim_setup_the_test_runs():
    assert _neovim_block(REPO / "docs" / "editor.md") == _neovim_block(README)
