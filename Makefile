# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLES := data/examples
DEMO_LIB := $(VENV)/demo-library

.PHONY: install demo test lint bench clean models

$(BIN)/citerec: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch first, so nothing pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(BIN)/citerec

install: $(BIN)/citerec

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/citerec suggest $(EXAMPLES)/draft.tex --bib $(EXAMPLES)/refs.bib --library-dir $(DEMO_LIB) --rerank auto

test: install
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

# Retrain every shipped model from a clone, on the corpus's train split (CORPUS: the unpacked corpus's papers
# folder; unpacked from CORPUS_ARCHIVE into .bench-cache/ when missing): the learned ranking, the where-to-cite
# models (measured on the dev split) and the small CPU judge. The same papers give the same bytes (the judge's
# weights aside: torch on CPU). About an hour on two cores from a cold cache.
CORPUS_ARCHIVE ?= ../shared/corpus/corpus.tar.xz
CORPUS ?= .bench-cache/corpus/papers
models: install $(CORPUS)/MANIFEST.tsv
	HF_HUB_OFFLINE=1 $(BIN)/citerec train ranker --papers $(CORPUS) --split data/splits/corpus.json \
		--out citerec/recall/models/ranker.json
	HF_HUB_OFFLINE=1 $(BIN)/citerec train check --papers $(CORPUS) --split data/splits/corpus.json \
		--out-dir citerec/check
	HF_HUB_OFFLINE=1 $(BIN)/citerec train judge --papers $(CORPUS) --split data/splits/corpus.json

$(CORPUS)/MANIFEST.tsv:
	mkdir -p .bench-cache/corpus
	tar xJf $(CORPUS_ARCHIVE) -C .bench-cache/corpus

lint: install
	$(BIN)/ruff check citerec tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
