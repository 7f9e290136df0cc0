"""Where to cite: which uncited sentences of a draft need a citation, and what to cite there.

`features` reads the draft's sentences and what the model looks at, `model` is the
logistic model (shipped as JSON) and its per-draft adaptation, `detector` runs
the whole check against a library.
"""

from citerec.check.detector import CheckOptions, CheckResult, SentenceCheck, check_draft, check_text

__all__ = ["CheckOptions", "CheckResult", "SentenceCheck", "check_draft", "check_text"]
