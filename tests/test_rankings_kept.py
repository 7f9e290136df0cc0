"""Rankings change only on purpose: top-50 recall lists and final suggestions, as recorded.

The record (tests/fixtures/rankings/) is written by `scripts/record_rankings.py`:
every eval paper's citing passages against its own library and the pooled one
(the draft's other citations known, as in `citerec eval`), every eval paper as
`citerec suggest` reads it, and 50 passages of the example draft. It was first
written from the code before the recall redesign, which this test then proved
unchanged; since then it is written anew only by a change meant to alter
rankings (the reader's verbatim URLs; draft evidence on by default), in the
commit that makes the change, which says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EVAL_PAPERS, EXAMPLES
from tests.helpers.rankings import digest, load, record

RECORD = Path(__file__).parent / "fixtures" / "rankings" / "rankings.json.gz"


@pytest.mark.skipif(not (EVAL_PAPERS / "MANIFEST.tsv").is_file(), reason="shared eval papers absent")
def test_rankings_are_the_recorded_ones(tmp_path: Path) -> None:
    expected = load(RECORD)
    found = digest(record(EVAL_PAPERS, EXAMPLES, tmp_path))
    assert sorted(found) == sorted(expected)
    changed = []
    for source, rows in expected.items():
        assert len(found[source]) == len(rows), source
        for number, (want, got) in enumerate(zip(rows, found[source], strict=True)):
            if want != got:
                changed.append(f"{source} passage {number}: {want['top10'][:3]} -> {got['top10'][:3]}")
    assert changed == [], f"{len(changed)} rankings changed, e.g. {changed[:5]}"
