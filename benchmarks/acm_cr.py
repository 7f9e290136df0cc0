"""ACM-CR, the published protocol: citerec's recall (and reranking) against the published baselines.

ACM-CR (Boudin et al.) is a citation-recommendation test collection: 113k BibTeX
entries from the ACM Digital Library, 552 citation sentences (and 269
paragraphs) from 50 papers, the cited DOIs judged. Unpack it anywhere:
`tar xJf acm-cr.tar.xz -C DIR`, then

    python benchmarks/acm_cr.py DIR                       # bm25, dense, hybrid
    python benchmarks/acm_cr.py DIR --reranker PATH       # + hybrid reranked (a GPU wants this)
    python benchmarks/acm_cr.py DIR --library-dir ~/acm-lib --json out.json
    python benchmarks/acm_cr.py DIR --dense-text title --methods hybrid \
        --variant rrf60:rrf_k=60,dense_weight=1 --variant minmax:fusion=minmax,dense_weight=1

Two readings beyond the published one (each sentence alone, topic by topic):
`--in-paragraph` reads each sentence topic inside its published paragraph, with
its neighbours, as `citerec suggest` reads a draft; `--as-drafts` ranks the
topics of one citing paper in one call, so they share that draft's topic.

`--variant name:field=value,...` adds hybrid runs with other fusion settings or
suggest options (as in quality.py); a table per query type (judged papers
without abstract, several papers cited at once, short sentences, author names
in the sentence) shows what each run wins or loses.

What it does, as a user would with the citerec API:
1. imports every `data/acm-dl/**.bib` into one library (timed; a library kept
   with `--library-dir` is re-used: unchanged files are skipped), remembering
   which entries deduplication merged into which, so a judged DOI still finds
   its paper;
2. applies the published collection rules: only @article and @inproceedings,
   no "Session…" entries without an abstract, no blacklisted (source) papers;
3. builds the index (timed, papers/s);
4. turns each topic into a draft passage (the bracketed markers `[12, 14]`
   become `[cite]` placeholders, which citerec removes from what it sees, as the
   protocol removes them) and ranks through the same `Suggester` as
   `citerec suggest`;
5. scores Recall@10 and NDCG@10 per query (judged DOIs missing from the
   collection count as misses), macro-averaged, beside the published figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import Cited, query_types, table, type_table  # noqa: E402
from quality import parse_variant  # noqa: E402

from citerec.evaluate import average, ranking_metrics  # noqa: E402
from citerec.library import Library  # noqa: E402
from citerec.recall import RecallSpec  # noqa: E402
from citerec.suggest import Suggester, SuggestOptions  # noqa: E402

# Published results on the sentence queries (ACM-CR paper, the collection rules above).
PUBLISHED = (
    ("BM25, title+abstract+keywords", 0.390, 0.316),
    ("BM25 then SciBERT, scores added", 0.403, 0.323),
    ("SciBERT alone", 0.334, 0.176),
)
KEEP_TYPES = ("article", "inproceedings")
ALIASES_FILE = "acm-cr-aliases.json"  # DOI merged away by deduplication -> key of the paper it joined
_MARKER = re.compile(r"\s*\[\d+(?:\s*[,–-]\s*\d+)*\]")


@dataclass(frozen=True)
class Topic:
    number: str
    text: str  # as published, markers included
    relevant: tuple[str, ...]  # judged DOIs, lower-case
    paper: str = ""  # the citing paper's title: topics of one paper are one draft


def read_topics(path: Path, qrels: Path) -> list[Topic]:
    """TREC topics (query text in <desc>) with their judged DOIs; topics without judgments are dropped."""
    judged: dict[str, list[str]] = {}
    for line in qrels.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[3].strip() != "0":
            judged.setdefault(parts[0], []).append(parts[2].strip().lower())
    return [
        Topic(number, desc, tuple(dict.fromkeys(judged[number])), paper)
        for number, paper, desc in _topic_blocks(path)
        if number in judged
    ]


def _topic_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(number, citing paper's title, description) of every topic in a TREC topics file."""
    blocks = []
    for block in re.findall(r"<top>(.*?)</top>", path.read_text(encoding="utf-8"), re.S):
        number = re.search(r"<num>\s*Number:\s*(\S+)", block).group(1)
        title = re.search(r"<title>([^\n]*)", block)
        desc = re.search(r"<desc>\s*Description:\s*(.*?)\s*(?:<narr>|$)", block, re.S).group(1)
        blocks.append((number, " ".join(title.group(1).split()) if title else "", " ".join(desc.split())))
    return blocks


def paragraphs_by_paper(path: Path) -> dict[str, list[str]]:
    """Every published paragraph (contexts.topics), by citing paper: where each sentence topic was written."""
    paragraphs: dict[str, list[str]] = {}
    for _, paper, desc in _topic_blocks(path):
        paragraphs.setdefault(paper, []).append(desc)
    return paragraphs


def as_draft(text: str) -> str:
    """The topic as a passage with placeholders where its citation markers were."""
    return _MARKER.sub(" [cite]", text)


# -- the collection -------------------------------------------------------------------------
def build_library(
    root: Path, library_dir: Path, blacklist: set[str], limit: int | None = None
) -> tuple[Library, dict[str, str], dict]:
    """Import the collection and apply the published rules; returns the library, the DOI aliases and timings."""
    from citerec.ingest import import_bibtex_files

    files = sorted((root / "data" / "acm-dl").rglob("*.bib"))[:limit]
    if not files:
        sys.exit(f"{root}: no data/acm-dl/**.bib (unpack acm-cr.tar.xz there)")
    library = Library(library_dir)
    started = time.perf_counter()
    results = import_bibtex_files(library, files, progress=_progress())
    import_seconds = time.perf_counter() - started
    aliases_path = library_dir / ALIASES_FILE
    aliases = json.loads(aliases_path.read_text()) if aliases_path.exists() else {}
    for _, report in results:
        aliases.update({incoming.lower(): existing for incoming, existing in report.duplicates})
    aliases_path.write_text(json.dumps(aliases))
    started = time.perf_counter()
    drop = [
        paper.key
        for paper in library.iter_papers()
        if paper.entry_type not in KEEP_TYPES
        or (paper.title.startswith("Session") and not paper.abstract)
        or (paper.doi or paper.key).lower() in blacklist
    ]
    library.remove(drop)
    timings = {
        "files": len(files),
        "entries": sum(r.entries for r, _ in results),
        "import_s": import_seconds,
        "files_unchanged": sum(r.unchanged for r, _ in results),
        "removed_by_rules": len(drop),
        "rules_s": time.perf_counter() - started,
        "documents": len(library),
    }
    return library, aliases, timings


def _progress():
    last = {"stage": "", "at": 0.0}

    def report(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != last["stage"] or now - last["at"] > 10 or done == total:
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)
            last.update(stage=stage, at=now)

    return report


# -- ranking and scoring --------------------------------------------------------------------
def contexts_for(
    topic: Topic,
    mode: str,
    neighbours: int = 0,
    paragraphs: dict[str, list[str]] | None = None,
    draft: str | None = None,
) -> list:
    """The topic as citerec's contexts: one per sentence (sentence topics) or the paragraph.

    With `paragraphs` a sentence topic is read where it was written: inside its
    paragraph, with its neighbours (as `citerec suggest` reads a draft). `draft`
    names the draft the contexts belong to (passages of one draft share its topic);
    by default each context is a draft of its own, as in the published protocol.
    """
    from citerec.latex import extract_contexts

    def read(text: str, window: int, every: bool = False) -> list:
        return extract_contexts(
            "<acm-cr>", text=as_draft(text), is_tex=False, mode=mode, neighbours=window, all_sentences=every
        )

    contexts = read(topic.text, neighbours)
    contexts = [c for c in contexts if c.placeholder] or contexts
    if paragraphs is not None and mode == "sentence" and len(contexts) == 1:
        contexts = [dataclasses.replace(contexts[0], paragraph=-1)]  # in no published paragraph until found
        for number, paragraph in enumerate(paragraphs.get(topic.paper, ())):
            found = [c for c in read(paragraph, max(neighbours, 1), every=True) if c.sentence == contexts[0].sentence]
            if found:  # where it stands: its published paragraph (in the paper's order) and its sentence there
                contexts = [dataclasses.replace(found[0], paragraph=number)]
                break
    names = [draft or f"{topic.number}/{i}" for i in range(len(contexts))]
    return [dataclasses.replace(c, draft=name) for c, name in zip(contexts, names, strict=True)]


def evaluate(
    suggester: Suggester,
    topics: Sequence[Topic],
    options: SuggestOptions,
    canonical: dict[str, str],
    mode: str,
    neighbours: int = 0,
    paragraphs: dict[str, list[str]] | None = None,
    as_drafts: bool = False,
    keys_by_doi: dict[str, list[str]] | None = None,
    positions: str = "order",
) -> tuple[dict[str, float], list[dict], float]:
    """Macro-averaged metrics, per-topic rows, and seconds per query.

    `as_drafts` ranks the topics of one citing paper in one call, as the passages
    of one draft (they then share the draft's topic, and its judged citations
    choose its reading plan, leave-one-out as in `citerec eval`); otherwise topic
    by topic. `keys_by_doi` turns judged DOIs into library keys for that choice; `positions` says where the
    topics stand in their draft (`_placed`).
    """
    groups: dict[str, list[Topic]] = {}
    for topic in topics:
        groups.setdefault(topic.paper if as_drafts else topic.number, []).append(topic)
    ranked_by_topic: dict[str, list] = {}
    contexts_by_topic: dict[str, list] = {}
    seconds = 0.0
    for name, members in groups.items():
        per_topic = [contexts_for(t, mode, neighbours, paragraphs, name if as_drafts else None) for t in members]
        if as_drafts:  # where each passage stands in its paper (the draft evidence measures by it)
            before = sentences_before(paragraphs.get(name, ())) if paragraphs and positions == "paragraphs" else None
            per_topic = _placed(per_topic, before)
        known = None
        if as_drafts and keys_by_doi is not None:
            # a topic read as several sentences lends its citations to none (each would see its siblings')
            known = [
                tuple(key for doi in topic.relevant for key in keys_by_doi.get(canonical.get(doi, doi), ()))
                if len(contexts) == 1
                else ()
                for topic, contexts in zip(members, per_topic, strict=True)
                for _ in contexts
            ]
        started = time.perf_counter()
        ranked = suggester.rank([c for contexts in per_topic for c in contexts], options, known=known)
        seconds += time.perf_counter() - started
        start = 0
        for topic, contexts in zip(members, per_topic, strict=True):
            contexts_by_topic[topic.number] = contexts
            ranked_by_topic[topic.number] = ranked[start : start + len(contexts)]
            start += len(contexts)
    rows = []
    for topic in topics:
        contexts, ranked = contexts_by_topic[topic.number], ranked_by_topic[topic.number]
        # a topic split into several sentences: their rankings interleaved, best ranks first
        keys = [s.key for depth in zip(*(r.ranking for r in ranked), strict=False) for s in depth]
        dois = list(dict.fromkeys(canonical.get(k.lower(), k.lower()) for k in keys))
        truth = [canonical.get(doi, doi) for doi in topic.relevant]
        metrics = ranking_metrics(dois, truth)
        rows.append(
            {
                "topic": topic.number,
                "paper": topic.paper,
                "query": contexts[0].text if contexts else "",
                **metrics,
                "relevant": list(topic.relevant),
                "ranked": dois[:20],
            }
        )
    return average(rows), rows, seconds / max(len(topics), 1)


def paper_table(by_paper: dict[str, dict[str, list[float]]], labels: list[str]) -> str:
    """R@10 per citing paper and run, with each run's change against the first and the worst paper's change."""
    headers = ["paper", "queries", *labels, *(f"{label} − {labels[0]}" for label in labels[1:])]
    rows, changes = [], {label: [] for label in labels[1:]}
    for paper, runs in sorted(by_paper.items()):
        means = {label: sum(runs[label]) / len(runs[label]) for label in labels}
        for label in labels[1:]:
            changes[label].append(means[label] - means[labels[0]])
        rows.append(
            [paper, len(runs[labels[0]]), *(f"{means[x]:.3f}" for x in labels)]
            + [f"{means[x] - means[labels[0]]:+.3f}" for x in labels[1:]]
        )
    if labels[1:]:
        rows.append(["**worst paper**", "", *([""] * len(labels)), *(f"{min(changes[x]):+.3f}" for x in labels[1:])])
        rows.append(
            ["**papers down / up**", "", *([""] * len(labels))]
            + [f"{sum(c < 0 for c in changes[x])} / {sum(c > 0 for c in changes[x])}" for x in labels[1:]]
        )
    return table(headers, rows)


def _placed(per_topic: list[list], sentences_before: list[int] | None = None) -> list[list]:
    """The contexts of one paper's topics placed as the sentences of one draft.

    By default (`--positions order`) they are numbered in topic order, one sentence apart, and no two share a
    paragraph. With `sentences_before` (`--positions paragraphs`: how many sentences the paper's published
    paragraphs hold before each one), a sentence found in its paragraph stands at its sentence there, after
    the sentences of the paragraphs before it, and sentences of one paragraph share it; ACM-CR gives only the
    paragraphs that cite, so distances across paragraphs are still too short. A topic not found in a
    paragraph keeps the topic-order place after the last one."""
    placed, position = [], 0
    for contexts in per_topic:
        row = []
        for i, c in enumerate(contexts):
            if sentences_before is not None and len(contexts) == 1 and 0 <= c.paragraph < len(sentences_before):
                row.append(dataclasses.replace(c, id=sentences_before[c.paragraph] + c.id))
            else:
                row.append(dataclasses.replace(c, id=position + i, paragraph=-1))
        placed.append(row)
        position = max([position + len(contexts), *(c.id + 1 for c in row)])
    return placed


def sentences_before(paragraphs: Sequence[str]) -> list[int]:
    """For each of a paper's published paragraphs, how many sentences the ones before it hold."""
    from citerec.latex import extract_contexts

    counts = [
        len(extract_contexts("<acm-cr>", text=as_draft(p), is_tex=False, mode="sentence", all_sentences=True))
        for p in paragraphs
    ]
    return [sum(counts[:i]) for i in range(len(counts))]


def topic_types(topic: Topic, canonical: dict[str, str], judged: dict[str, Cited]) -> list[str]:
    """The analysis groups a topic falls in."""
    papers = [judged[canonical.get(d, d)] for d in topic.relevant if canonical.get(d, d) in judged]
    return query_types(_MARKER.sub(" ", topic.text), papers, len(topic.relevant))


def canonical_dois(library: Library, aliases: dict[str, str], judged: dict[str, Cited] | None = None) -> dict[str, str]:
    """Every key and DOI (lower-case) → the DOI of the library paper that stands for it (fills `judged`)."""
    canonical: dict[str, str] = {}
    for paper in library.iter_papers():
        doi = (paper.doi or paper.key).lower()
        canonical[paper.key.lower()] = doi
        canonical[doi] = doi
        if judged is not None:
            judged[doi] = Cited.of(paper)
    for merged, key in aliases.items():
        if key.lower() in canonical:
            canonical[merged] = canonical[key.lower()]
    return canonical


def keys_by_canonical_doi(library: Library, canonical: dict[str, str]) -> dict[str, list[str]]:
    """The library keys standing for each canonical DOI (the inverse of `canonical_dois` on keys)."""
    keys: dict[str, list[str]] = {}
    for paper in library.iter_papers():
        keys.setdefault(canonical[paper.key.lower()], []).append(paper.key)
    return keys


class TitleOnly:
    """An embedder that embeds each paper's title alone: a cheap dense side for the 105k-document collection.

    Its name differs from the wrapped model's, so an index built with it is never mistaken for a full one.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = f"{inner.name}#title"
        self.dimension = inner.dimension

    def format_document(self, paper) -> str:
        return paper.title

    def embed_documents(self, texts, progress=None):
        return self.inner.embed_documents(texts, progress=progress)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the unpacked ACM-CR folder (holding data/)")
    parser.add_argument("--library-dir", type=Path, default=None, help="keep the library and index here")
    parser.add_argument("--methods", default="bm25,dense,hybrid", help="recall methods, comma-separated")
    parser.add_argument("--reranker", default=None, help="also rerank hybrid candidates with this model")
    parser.add_argument("--recall-k", type=int, default=50, help="candidates reranked per query")
    parser.add_argument("--queries", default="sentences,contexts", help="sentences and/or contexts (paragraphs)")
    parser.add_argument("--embedder", default=None, help="embedding model (default: citerec's)")
    parser.add_argument(
        "--dense-text", choices=("full", "title"), default="full", help="what the dense side embeds per paper"
    )
    parser.add_argument("--neighbours", type=int, default=0, help="sentences on each side in a query")
    parser.add_argument(
        "--in-paragraph",
        action="store_true",
        help="read each sentence topic inside its published paragraph, with its neighbours (as a draft is read)",
    )
    parser.add_argument(
        "--as-drafts", action="store_true", help="rank the topics of one citing paper together, as one draft"
    )
    parser.add_argument(
        "--positions",
        choices=("order", "paragraphs"),
        default="order",
        help="with --as-drafts --in-paragraph: topics one sentence apart in topic order, or placed in their paragraphs",
    )
    parser.add_argument("--variant", action="append", default=[], help="name:field=value,... hybrid run; repeatable")
    parser.add_argument(
        "--draft-evidence", choices=("on", "off"), default="on", help="with --as-drafts: the paper's citations count"
    )
    parser.add_argument("--json", type=Path, default=None, help="write per-topic results here")
    parser.add_argument("--files", type=int, default=None, help="only the first N .bib files (a quick check)")
    args = parser.parse_args()

    import tempfile

    qrels_dir = args.root / "data" / "topics+qrels"
    blacklist = {line.strip().lower() for line in (qrels_dir / "blacklist.txt").read_text().splitlines() if line}
    scratch = None
    if args.library_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="citerec-acm-cr-")
        args.library_dir = Path(scratch.name)
    print(f"library in {args.library_dir}", file=sys.stderr)
    library, aliases, timings = build_library(args.root, args.library_dir, blacklist, args.files)

    from citerec.index import update_index
    from citerec.index.dense import search_probes

    embedder = args.embedder
    if args.dense_text == "title":
        from citerec.embed import load_embedder

        embedder = TitleOnly(load_embedder(args.embedder))
    started = time.perf_counter()
    index, report = update_index(library, embedder=embedder, progress=_progress())
    timings["index_s"] = time.perf_counter() - started
    timings["embedded"] = report.embedded
    timings["embed_papers_per_s"] = report.embedded / report.embed_seconds if report.embedded else None
    spec = index.manifest.dense
    timings["faiss"] = spec.to_dict() | ({"nprobe": search_probes(spec)} if spec.kind != "flat" else {})
    judged: dict[str, Cited] = {}
    canonical = canonical_dois(library, aliases, judged)
    keys_by_doi = keys_by_canonical_doi(library, canonical) if args.as_drafts else None

    suggester = Suggester(library, options=SuggestOptions(rerank="off"), index=index)
    recall = RecallSpec(k=max(args.recall_k, 20), draft_evidence=args.draft_evidence == "on")
    base = SuggestOptions(rerank="off", recall=recall)
    runs = [(m, base.with_recall(method=m)) for m in args.methods.split(",") if m]
    for spec in args.variant:
        runs.append(parse_variant(spec, base))
    if args.reranker:
        # the hybrid run's recall (its evidence setting included), then the judge: a ratio to recall alone
        rerank = dataclasses.replace(base.with_recall(method="hybrid"), rerank="on", reranker=args.reranker)
        runs.append(("hybrid + rerank", rerank))
    results: dict[str, dict] = {}
    paragraphs = paragraphs_by_paper(qrels_dir / "contexts.topics") if args.in_paragraph else None
    for name in args.queries.split(","):
        topics = read_topics(qrels_dir / f"{name}.topics", qrels_dir / f"{name}.qrels")
        mode = "sentence" if name == "sentences" else "paragraph"
        rows = []
        by_type: dict[str, dict[str, list[float]]] = {}
        by_paper: dict[str, dict[str, list[float]]] = {}
        types = {t.number: topic_types(t, canonical, judged) for t in topics}
        for label, options in runs:
            metrics, per_topic, per_query = evaluate(
                suggester,
                topics,
                options,
                canonical,
                mode,
                args.neighbours,
                paragraphs,
                args.as_drafts,
                keys_by_doi,
                args.positions,
            )
            for row in per_topic:
                by_paper.setdefault(row["paper"], {}).setdefault(label, []).append(row["recall@10"])
                for kind in types[row["topic"]]:
                    by_type.setdefault(kind, {}).setdefault(label, []).append(row["recall@10"])
            results[f"{name}/{label}"] = {"metrics": metrics, "ms_per_query": per_query * 1000, "topics": per_topic}
            rows.append(
                [
                    f"citerec {label}",
                    f"{metrics['recall@10']:.3f}",
                    f"{metrics['ndcg@10']:.3f}",
                    f"{metrics['recall@20']:.3f}",
                    f"{metrics['mrr']:.3f}",
                    f"{per_query * 1000:.1f}",
                ]
            )
        if name == "sentences":
            rows += [[f"published: {label}", f"{r10:.3f}", f"{n10:.3f}", "", "", ""] for label, r10, n10 in PUBLISHED]
        print(f"\n## ACM-CR {name}: {len(topics)} queries, {timings['documents']} documents\n")
        print(table(["method", "R@10", "NDCG@10", "R@20", "MRR", "ms/query"], rows))
        print(f"\n## ACM-CR {name}: R@10 per query type\n")
        print(type_table(by_type, [label for label, _ in runs]))
        print(f"\n## ACM-CR {name}: R@10 per citing paper\n")
        print(paper_table(by_paper, [label for label, _ in runs]))

    timings["peak_rss_mb"] = peak_rss_mb()
    print("\n## Times\n")
    print(table(["step", "value"], [[k, f"{v:.1f}" if isinstance(v, float) else v] for k, v in timings.items()]))
    if args.json:
        config = {"methods": args.methods, "reranker": args.reranker, "recall_k": args.recall_k}
        config |= {"variants": args.variant, "dense_text": args.dense_text, "neighbours": args.neighbours}
        config |= {
            "in_paragraph": args.in_paragraph,
            "as_drafts": args.as_drafts,
            "draft_evidence": args.draft_evidence,
            "positions": args.positions,
        }
        args.json.write_text(json.dumps({"timings": timings, "config": config, "results": results}, indent=1))
    if scratch is not None:
        library.close()
        scratch.cleanup()


if __name__ == "__main__":
    main()
