"""The recall algorithm: from a request and an index to each passage's candidate papers.

An `Index` (`citerec.index`) is a store that answers searches; this package
decides what to search and how to merge it, driven by one frozen `RecallSpec`:

- `spec`: `RecallSpec`, `FusionSettings`, `Passage`, `Candidate`, and the recall-cache key;
- `fusion`: merging ranked lists (RRF, min-max and z-score fusion) and mixing readings;
- `readings`: a passage read at three scales, and a draft's topic;
- `feedback`: pseudo-relevance feedback (RM3 for BM25, Rocchio for dense);
- `search`: the readings searched, fused and cached;
- `plans`: the reading plans, and each draft's choice from its own citations (the t-test);
- `evidence`: what the draft's other passages cite, leave-one-out exact (`--draft-evidence on`);
- `features`: per-candidate features (both plans' lists, dense similarity, the evidence);
- `adapt`: the learned ranking re-weighed per draft on its own cited passages, cross-fitted;
- `learned`: the shipped ranking model (`models/ranker.json`, in `citerec.linear`'s format) and each candidate's "why";
- `run`: `recall(index, passages, spec)`, all of the above in one call;
- `draft`: one new passage ranked against a draft's citing passages read before (`DraftCitations`,
  what the language server keeps per project), with the same evidence and model as `run`.

Modules depend one way: spec ← fusion ← readings, feedback ← search ← plans ← run, and
spec ← evidence ← features ← adapt ← learned ← run ← draft.
"""

from __future__ import annotations

from citerec.recall.draft import DraftCitations
from citerec.recall.plans import PlanChoice, draft_plan, window_plan
from citerec.recall.run import PassageRecall, recall
from citerec.recall.search import feedback_words, recall_passages, recall_text, recall_texts
from citerec.recall.spec import Candidate, FusionSettings, Passage, RecallSpec

__all__ = [
    "Candidate",
    "DraftCitations",
    "FusionSettings",
    "Passage",
    "PassageRecall",
    "PlanChoice",
    "RecallSpec",
    "draft_plan",
    "feedback_words",
    "recall",
    "recall_passages",
    "recall_text",
    "recall_texts",
    "window_plan",
]
