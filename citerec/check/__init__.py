"""Where to cite: which uncited sentences of a draft need a citation, and what to cite there.

`features` reads the draft's sentences and what the models look at, `model` holds
the logistic models (shipped as JSON: the prior, and the draft model that reads
the draft's own citations), `detector` runs the whole check against a library.
"""

from citerec.check.detector import CheckOptions, CheckResult, SentenceCheck, check_draft, check_text

__all__ = ["CheckOptions", "CheckResult", "SentenceCheck", "check_draft", "check_text"]
