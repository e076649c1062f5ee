# DreamReel — one command each on a fresh machine: `make demo`, `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PYTHON ?= python3
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export DREAMREEL_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export DREAMREEL_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: setup system-deps narrator-deps demo test unit lint bench eval frontier train-classifiers clean

# The CPU build of torch goes in first: otherwise pip resolves `torch` to a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[all,test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages: espeak-ng, the embedded narrator (Korean and English voices; `make demo` needs
# it), and headless Chromium for the browser tests. Installed when missing and running as root.
NARRATOR_PACKAGES := espeak-ng
SYSTEM_PACKAGES := chromium chromium-driver fonts-nanum $(NARRATOR_PACKAGES)
define apt_install
	@if ! dpkg -s $(1) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null) \
	      || echo "warning: could not install $(1)"; \
	  else echo "note: $(1) missing and not root: install them (narration needs espeak-ng; browser tests skip)"; fi; \
	fi
endef

system-deps:
	$(call apt_install,$(SYSTEM_PACKAGES))

narrator-deps:
	$(call apt_install,$(NARRATOR_PACKAGES))

demo: $(STAMP) narrator-deps
	@DREAMREEL_HOME=$${DREAMREEL_HOME:-var/demo} $(PY) -m dreamreel.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: $(STAMP) system-deps lint
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m bench

eval: $(STAMP)
	$(PY) -m bench.eval

frontier: $(STAMP)
	$(PY) -m bench.frontier
	$(PY) -m bench.sentence_count
	$(PY) -m bench.fresh_writer
	$(PY) -m bench.padding
	$(PY) -m bench.long_dreams
	$(PY) -m bench.long_dreams --data data/policy/dreambank_val.jsonl
	$(PY) -m bench.long_dreams --data data/policy/dreambank_val2.jsonl

train-classifiers: $(STAMP)
	$(PY) -m agent.train --data data/train --out agent/models

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
