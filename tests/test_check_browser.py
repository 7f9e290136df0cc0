"""'Where to cite' on the page of `citerec serve`, in headless Chromium (skipped without it, as the page's tests)."""

from __future__ import annotations

import pytest

from tests.test_check import DRAFT
from tests.test_serve_browser import chromium_path, page, server_url  # noqa: F401

pytestmark = pytest.mark.browser


def test_page_highlights_sentences_that_need_a_citation(page) -> None:  # noqa: F811
    page.wait_for_selector("#health:has-text('papers')")
    page.click("#tab-check")
    page.fill("#check-text", DRAFT)
    page.fill("#check-threshold", "0")
    page.select_option("#check-rerank", "off")
    page.click("#check-go")
    page.wait_for_selector("#check-go:enabled")
    status = page.locator("#check-status")
    assert "error" not in (status.get_attribute("class") or ""), status.inner_text()
    marks = page.locator("mark.needs-citation")
    texts = marks.all_inner_texts()
    assert any(t.startswith("Transformers have been shown") for t in texts)
    assert not any("\\cite" in t for t in texts)  # the cited sentence is never marked
    assert page.locator("#check-draft").text_content() == DRAFT  # the draft is shown whole, marks in place
    marks.first.click()
    assert "selected" in (marks.first.get_attribute("class") or "")
    assert page.locator("#check-suggestions .context code.key").count() >= 1
