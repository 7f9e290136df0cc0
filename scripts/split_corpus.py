"""Write the fixed train/dev/test split of a paper collection (by paper, stratified by field, seeded).

    python scripts/split_corpus.py --manifest CORPUS/papers/MANIFEST.tsv --seed 32 --out data/splits/corpus.json

About 70 % of each field's papers train, 10 % choose (dev), 20 % test. The file holds the seed and the
names of each part (never a text of the collection); benchmarks and training scripts read it with
`citerec.train.splits` (`--split train|dev|test`). The same manifest and seed always give the same file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from citerec.train.splits import PARTS, make_split, manifest_fields

REPO = Path(__file__).resolve().parents[1]
CORPUS_SPLIT = REPO / "data" / "splits" / "corpus.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True, help="the collection's MANIFEST.tsv (name, field)")
    parser.add_argument("--seed", type=int, default=32)
    parser.add_argument("--out", type=Path, default=CORPUS_SPLIT)
    args = parser.parse_args()
    if not args.manifest.is_file():
        raise SystemExit(f"{args.manifest}: no such file")
    split = make_split(manifest_fields(args.manifest), args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(split.to_json(), indent=1) + "\n", encoding="utf-8")
    sizes = ", ".join(f"{part} {len(split.parts[part])}" for part in PARTS)
    print(f"wrote {args.out}: {sizes} (seed {split.seed})")


if __name__ == "__main__":
    main()
