"""`POST /v1/check`: where a text may need citations, over HTTP, as `citerec check --format json` gives it."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from tests.test_check import DRAFT  # noqa: E402
from tests.test_serve_api import call, index, library, make_app, tiny  # noqa: E402, F401


def test_check_answers_like_the_library_call(make_app, library, index) -> None:  # noqa: F811
    from citerec.check import CheckOptions, check_text
    from citerec.suggest import Suggester, SuggestOptions

    body = {"tex": DRAFT, "threshold": 0.0, "top_n": 2, "rerank": "off"}
    (response,) = call(make_app(), ("POST", "/v1/check", body))
    assert response.status_code == 200, response.text
    data = response.json()
    options = CheckOptions(threshold=0.0, top_n=2, suggest=SuggestOptions(rerank="off", top_n=2))
    direct = check_text(Suggester(library, index=index, options=options.suggest), DRAFT, is_tex=True, options=options)
    assert [(s["line"], s["text"]) for s in data["sentences"]] == [(s.line, s.text) for s in direct.sentences]
    assert [s["score"] for s in data["sentences"]] == pytest.approx([s.score for s in direct.sentences], abs=1e-3)
    assert all(s["needs_citation"] and 1 <= len(s["suggestions"]) <= 2 for s in data["sentences"])
    assert all(s["suggestions"][0]["rerank_score"] is None for s in data["sentences"])


def test_check_reranks_with_the_servers_judge_and_rejects_bad_input(make_app) -> None:  # noqa: F811
    app = make_app()
    reranked, bad, both = call(
        app,
        ("POST", "/v1/check", {"tex": DRAFT, "threshold": 0.0, "top_n": 1}),
        ("POST", "/v1/check", {"tex": DRAFT, "threshold": 1.5}),
        ("POST", "/v1/check", {"tex": DRAFT, "text": "x"}),
    )
    assert reranked.status_code == 200, reranked.text
    assert all(s["suggestions"][0]["rerank_score"] is not None for s in reranked.json()["sentences"])
    assert bad.status_code == 422 and both.status_code == 422
