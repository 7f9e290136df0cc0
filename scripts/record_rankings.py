"""Write the rankings the recall redesign must keep (tests/fixtures/rankings/), from the code as it is now.

python scripts/record_rankings.py [--papers DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.rankings import digest, record, save  # noqa: E402

TARGET = REPO / "tests" / "fixtures" / "rankings" / "rankings.json.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=Path, default=REPO.parent / "shared" / "eval" / "papers")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as work:
        save(digest(record(args.papers, REPO / "data" / "examples", Path(work))), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
