"""The page shows library text as text (no HTML or script injection), and /docs works with no network.

Headless Chromium against a real server on loopback; every request outside the
server is aborted and fails the test, so a CDN asset would show up here.
"""

from __future__ import annotations

import pytest

from tests.helpers.libraries import copy_library
from tests.test_serve_browser import chromium_path, offline_tab  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser

HOSTILE_TITLE = (
    "Reciprocal rank fusion <script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2"><b>bold</b> & friends'
)
HOSTILE_BIB = f"""@article{{hostile2024,
  title = {{{HOSTILE_TITLE}}},
  author = {{Mallory <i>Evil</i>}},
  year = {{2024}},
  abstract = {{Reciprocal rank fusion merges ranked lists by summing reciprocal ranks.}},
}}
"""


@pytest.fixture(scope="module")
def hostile_url(_indexed_example_library, tmp_path_factory):
    pytest.importorskip("uvicorn")

    from citerec.index import ensure_index
    from citerec.ingest import import_bibtex
    from citerec.library import Library
    from citerec.serve import create_app
    from citerec.serve.background import serve_in_thread
    from citerec.suggest import SuggestOptions

    root = tmp_path_factory.mktemp("hostile") / ".citerec"
    copy_library(_indexed_example_library, root)
    bib = root.parent / "hostile.bib"
    bib.write_text(HOSTILE_BIB)
    library = Library(root)
    import_bibtex(library, bib)
    ensure_index(library)
    app = create_app(library, options=SuggestOptions(rerank="off"))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def browser_page(chromium_path, hostile_url):  # noqa: F811
    with offline_tab(chromium_path, hostile_url) as tab:
        yield tab


def test_a_title_holding_html_and_script_is_shown_as_text(browser_page, hostile_url) -> None:
    page = browser_page
    page.goto(hostile_url + "/")
    page.wait_for_selector("#health:has-text('papers')")
    page.fill("#suggest-text", "Ranked lists are merged by reciprocal rank fusion \\cite{?}.")
    page.click("#suggest-go")
    page.wait_for_selector("#suggest-go:enabled")
    page.wait_for_selector(".context")
    rows = page.locator(".context tr.suggestion").all_inner_texts()
    shown = [row for row in rows if "hostile2024" in row]
    assert shown, rows
    assert "<script>window.__pwned = 1</script>" in shown[0]  # the markup is text on the page ...
    assert "<b>bold</b>" in shown[0]
    assert page.evaluate("window.__pwned") is None  # ... and none of it ran
    assert page.locator("#suggest-results script, #suggest-results img, #suggest-results b").count() == 0


def test_docs_render_the_operations_with_no_network(browser_page, hostile_url) -> None:
    page = browser_page
    page.goto(hostile_url + "/docs")
    page.wait_for_selector(".opblock", timeout=60_000)  # Swagger UI ran: its assets came from the server
    text = page.inner_text("body")
    for path in ("/v1/suggest", "/v1/rerank", "/v1/library/search", "/healthz"):
        assert path in text
