"""The `--source` names: `snapshot:PATH`, `arxiv`, `openalex`, `crossref`, `semanticscholar`.

Offline first: a snapshot is read once for all entries; then the online services,
each asked only for what earlier ones left missing. The default order asks
the services that hold abstracts for most papers first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citerec.enrich.http import HttpSettings
from citerec.enrich.lookup import OnlineSource
from citerec.errors import InputError

ONLINE = ("openalex", "semanticscholar", "crossref", "arxiv")
DEFAULT_ONLINE = ("openalex", "semanticscholar", "arxiv", "crossref")
SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class SnapshotSource:
    """The arXiv metadata snapshot (JSON lines), read in one pass for every entry."""

    path: Path
    name: str = SNAPSHOT


Source = SnapshotSource | OnlineSource


def _online(name: str, settings: HttpSettings, transport: Any) -> OnlineSource:
    if name == "openalex":
        from citerec.enrich.openalex import OpenAlexSource

        return OpenAlexSource(settings, transport=transport)
    if name == "crossref":
        from citerec.enrich.crossref import CrossrefSource

        return CrossrefSource(settings, transport=transport)
    if name == "semanticscholar":
        from citerec.enrich.semanticscholar import SemanticScholarSource

        return SemanticScholarSource(settings, transport=transport)
    from citerec.enrich.arxiv_api import ArxivSource

    return ArxivSource(settings)


def source_name(spec: str) -> str:
    """The name a spec's fills are recorded under (`snapshot:PATH` → snapshot); `InputError` when unknown."""
    name = spec.split(":", 1)[0].strip().lower()
    if name == SNAPSHOT or name in ONLINE:
        return name
    known = ", ".join((f"{SNAPSHOT}:PATH", *ONLINE))
    raise InputError(f"unknown source {spec!r} (expected {known})")


def make_sources(
    specs: Sequence[str],
    settings: HttpSettings,
    *,
    transport: Any = None,
    online: Callable[[str, HttpSettings, Any], OnlineSource] = _online,
) -> list[Source]:
    """Sources for the specs, in the order given (`InputError` for an unknown name or a missing snapshot)."""
    sources: list[Source] = []
    for spec in specs or DEFAULT_ONLINE:
        name = source_name(spec)
        if name == SNAPSHOT:
            path = Path(spec.split(":", 1)[1]) if ":" in spec else None
            if path is None or not str(path):
                raise InputError("the snapshot source needs a file: --source snapshot:PATH")
            if not path.is_file():
                raise InputError("no such file", str(path))
            sources.append(SnapshotSource(path))
        elif name not in {s.name for s in sources}:
            sources.append(online(name, settings, transport))
    return sources
