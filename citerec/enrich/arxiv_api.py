"""The arXiv API (through the `arxiv` package): a paper by arXiv id, else a title and first-author search.

The package spaces requests (three seconds, as arXiv asks) and retries; its
session is given the `--timeout` it lacks. Results become records with the importer's own `result_to_paper`. A DOI alone
is not something arXiv's search can look up, so such an entry is asked by title.
"""

from __future__ import annotations

import re
from typing import Any

from citerec.enrich.http import HttpSettings, SourceError, user_agent
from citerec.enrich.lookup import entry_request, search_words
from citerec.enrich.match import first_surname
from citerec.papers import Paper

SEARCH_RESULTS = 5
_QUERY_UNSAFE = re.compile(r"[^\w\s]")


class ArxivSource:
    name = "arxiv"

    def __init__(self, settings: HttpSettings, *, client: Any = None) -> None:
        self._settings = settings
        self._client = client

    def _arxiv_client(self) -> Any:
        if self._client is None:
            import arxiv

            self._client = arxiv.Client(page_size=SEARCH_RESULTS, delay_seconds=3.0, num_retries=self._settings.retries)
            self._client._session = _timed_session(self._settings)  # the package sets no timeout, no contact
        return self._client

    def request(self, entry: Paper) -> str | None:
        return entry_request(entry, by_doi=False)

    def fetch(self, entry: Paper) -> list[Paper]:
        import arxiv

        from citerec.ingest.arxiv import result_to_paper

        request = self.request(entry) or ""
        if request.startswith("arxiv:"):
            search = arxiv.Search(id_list=[request[6:]], max_results=1)
        else:
            words = _QUERY_UNSAFE.sub(" ", search_words(entry)).split()
            if not words:
                return []
            query = " AND ".join(f"ti:{w}" for w in words[:12])
            if surname := first_surname(entry):
                query += f" AND au:{surname}"
            search = arxiv.Search(query=query, max_results=SEARCH_RESULTS)
        try:
            results = list(self._arxiv_client().results(search))
        except arxiv.ArxivError as exc:
            raise SourceError(f"{self.name}: {exc}") from exc
        except OSError as exc:
            raise SourceError(f"{self.name}: cannot reach arXiv ({exc})") from exc
        records = []
        for result in results:
            if not getattr(result, "title", "") or result.title.strip().lower() == "error":
                continue
            try:
                records.append(result_to_paper(result))
            except (AttributeError, TypeError, ValueError) as exc:
                raise SourceError(f"{self.name}: malformed answer ({exc})") from exc
        return records


def _timed_session(settings: HttpSettings) -> Any:
    """A requests session that names citerec and the user's contact address (`--mailto`) and whose requests time
    out after the `--timeout` (a timeout is an OSError: a SourceError)."""
    import requests

    agent = user_agent(settings)

    class TimedSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", settings.timeout_s)
            given = kwargs.get("headers") or {}
            package = next((v for k, v in given.items() if k.lower() == "user-agent"), "")  # its name, kept after ours
            headers = {k: v for k, v in given.items() if k.lower() != "user-agent"}
            kwargs["headers"] = {**headers, "User-Agent": f"{agent} {package}".strip()}
            return super().request(*args, **kwargs)

    return TimedSession()
