"""Training citerec's shipped models from a collection of papers (`citerec train`, `make models`).

A collection is a folder with a MANIFEST.tsv (`collection`); `ranker` trains the
learned ranking, `check` the where-to-cite models. Both fit with `citerec.linear`
(numpy alone), so a clone retrains every shipped file with no extra dependency,
and the same papers give byte-identical files.
"""
