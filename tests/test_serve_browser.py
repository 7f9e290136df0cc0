"""The page of `citerec serve`, driven in headless Chromium against a real server on loopback.

Needs Playwright's Python client and a system Chromium (scripts/install-test-tools.sh);
skipped without them, except under CI (the `CI` variable set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PARAGRAPH = (  # two sentences of data/examples/draft.tex, each with a placeholder
    "The two ranked lists are merged by summing the reciprocals of each document's ranks \\cite{?}. "
    "Dense vectors are searched with a GPU-friendly similarity search library based on product quantisation \\cite{?}."
)

CITED_FIRST = (  # the same placeholder sentence after a sentence that cites the paper it describes
    "Reciprocal rank fusion adds up reciprocal ranks of every list \\cite{cormack2009reciprocal}. "
    "The two ranked lists are merged by summing the reciprocals of each document's ranks \\cite{?}."
)


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI: run scripts/install-test-tools.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright Python client is not installed")
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    _missing("no chromium found on the PATH (scripts/install-test-tools.sh installs it)")


@pytest.fixture(scope="module")
def server_url(_indexed_example_library, tiny_reranker_dir):
    pytest.importorskip("uvicorn")
    from citerec.library import Library
    from citerec.rerank import load_reranker
    from citerec.serve import create_app
    from citerec.serve.background import serve_in_thread

    app = create_app(Library(_indexed_example_library), reranker=load_reranker(str(tiny_reranker_dir)))
    with serve_in_thread(app) as url:
        yield url


@contextlib.contextmanager
def offline_tab(chromium_path: str, server_url: str):
    """A Chromium tab that may reach only `server_url`: any other request fails the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            outside: list[str] = []

            def guard(route):
                if route.request.url.startswith(server_url):
                    return route.continue_()
                outside.append(route.request.url)
                return route.abort()

            context.route("**/*", guard)
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            yield tab
            assert not outside, f"the page tried to fetch {outside}"
        finally:
            browser.close()


@pytest.fixture
def page(chromium_path, server_url):
    with offline_tab(chromium_path, server_url) as tab:
        tab.goto(server_url + "/")
        yield tab


def test_page_suggests_library_keys_for_a_pasted_paragraph(page, _indexed_example_library):
    from citerec.library import Library

    library = Library(_indexed_example_library)
    page.wait_for_selector("#health:has-text('papers')")
    page.fill("#suggest-text", PARAGRAPH)
    page.fill("#suggest-top", "3")
    page.click("#suggest-go")
    page.wait_for_selector("#suggest-go:enabled")  # disabled while the request runs
    status = page.locator("#suggest-status")
    assert "error" not in (status.get_attribute("class") or ""), status.inner_text()
    keys = page.locator(".context code.key").all_inner_texts()
    assert keys and all(library.get(key) is not None for key in keys)
    assert len(page.locator(".context").all()) == 2  # the two \cite{?} spots
    first_cite = page.locator(".context code.cite").first.inner_text()
    assert first_cite.startswith("\\cite{") and first_cite.endswith("}")
    assert "reranked by" in page.inner_text("#suggest-status")


def test_page_says_why_each_key_is_suggested(page):
    page.wait_for_selector("#health:has-text('papers')")
    page.fill("#suggest-text", CITED_FIRST)
    page.fill("#suggest-top", "5")
    page.select_option("#suggest-rerank", "off")  # the test reranker is random: recall's order, and its reasons
    page.click("#suggest-go")
    page.wait_for_selector("#suggest-go:enabled")
    placeholder = page.locator(".context").filter(has_text="summing the reciprocals")
    row = placeholder.locator("tr.suggestion").filter(has=page.locator("code.key", has_text="cormack2009reciprocal"))
    assert placeholder.locator("code.key").first.inner_text() == "cormack2009reciprocal"
    why = row.locator("ul.why li").all_inner_texts()
    # what sets it apart: the draft cites it a sentence earlier, said by place or by that sentence's words
    cited_there = ("cited 1 sentence earlier: '", "described alike where the draft cites it: '")
    assert any(line.startswith(cited_there) and "reciprocal ranks" in line for line in why), why
    assert all(len(r.locator("ul.why li").all()) <= 2 for r in placeholder.locator("tr.suggestion").all())


def test_page_reranks_documents_one_per_line(page):
    page.click("#tab-rerank")
    page.fill("#rerank-query", "self-attention sequence transduction")
    page.fill("#rerank-docs", "Attention is all you need\nDeep residual learning\nGloVe word vectors")
    page.click("#rerank-go")
    page.wait_for_selector("#rerank-go:enabled")
    status = page.locator("#rerank-status")
    assert "error" not in (status.get_attribute("class") or ""), status.inner_text()
    docs = page.locator("#rerank-results .doc").all_inner_texts()
    assert sorted(doc.split(" ", 1)[1] for doc in docs) == [
        "Attention is all you need",
        "Deep residual learning",
        "GloVe word vectors",
    ]
    scores = [float(text) for text in page.locator("#rerank-results .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)


def test_page_lists_the_reading_warnings_of_a_damaged_draft(page):
    """A title page whose `{\\centering` is never closed is read anyway; the page says where and what was done."""
    page.wait_for_selector("#health:has-text('papers')")
    page.fill("#suggest-text", "\\begin{titlepage}\n{\\centering A title\n\\end{titlepage}\n" + PARAGRAPH)
    page.click("#suggest-go")
    page.wait_for_selector("#suggest-go:enabled")
    assert page.locator("#suggest-warnings li").all_inner_texts() == [
        "<text>:2: '{' is never closed; closed at \\end{titlepage}"
    ]
    assert page.locator(".context").all()
