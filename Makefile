# The two set-up commands of the README:
#   make demo   installs everything, renders a dataset, trains, evaluates, writes a GIF
#   make test   installs everything and runs the test suite
#   make lint   ruff over the checkout (CI runs it)
# Both use the newest supported Python and NumPy found (scripts/install.sh).
# The pinned stack (Python 3.11, NumPy 1.26) in its own venv: make test-pinned.
# CuPy and the CUDA libraries into the venv: make install-cuda.
# Every wheel for an offline install into wheelhouse/ (scripts/wheelhouse.sh; it prints the
# size): make wheelhouse [WHEELHOUSE_FLAGS="--pinned --gpu"] [PYTHON=python3.12].
VENV ?= .venv
INSTALL_FLAGS ?=
WHEELHOUSE ?= wheelhouse
WHEELHOUSE_FLAGS ?=
STAMP := $(VENV)/.installed
# CuPy + NVRTC outside the venv's path, for the CPU-side kernel compile test
NVRTC_CHECK := $(VENV)/nvrtc-check/.installed
# the headless Chromium of the viewer's browser test (apt); its test skips without one
BROWSER := $(VENV)/.browser

.PHONY: install install-cuda demo demo-quick test test-pinned bench lint wheelhouse docs

install: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml scripts/install.sh
	bash scripts/install.sh $(INSTALL_FLAGS) $(VENV)
	touch $@

install-cuda: $(STAMP)
	bash scripts/cuda.sh $(VENV)

wheelhouse:
	bash scripts/wheelhouse.sh $(WHEELHOUSE_FLAGS) $(WHEELHOUSE)

demo: $(STAMP)
	$(VENV)/bin/gqn demo

demo-quick: $(STAMP)
	$(VENV)/bin/gqn demo --quick

$(NVRTC_CHECK): $(STAMP) scripts/cuda.sh
	bash scripts/cuda.sh --compile-only $(VENV) && touch $@ \
	  || echo "note: CuPy/NVRTC wheels not installed: tests/gqn/kernels/test_nvrtc.py will skip"

# the documentation: Sphinx (guides from docs/*.md, the API reference from the docstrings)
# into docs/_build/html, every warning an error (CI runs it)
docs: $(STAMP)
	$(VENV)/bin/python -m pip install -q "sphinx>=7" "myst-parser>=2"
	$(VENV)/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

# ruff (config in pyproject.toml) into the venv, then the whole checkout
lint: $(STAMP)
	$(VENV)/bin/python -m pip install -q "ruff>=0.14,<1"
	$(VENV)/bin/ruff check .

$(BROWSER): $(STAMP) scripts/install.sh
	bash scripts/install.sh --browser && touch $@ \
	  || echo "note: chromium not installed: the viewer's browser test will skip"

test: $(STAMP) $(NVRTC_CHECK) $(BROWSER)
	$(VENV)/bin/python -m pytest

test-pinned:
	$(MAKE) test VENV=.venv-pinned INSTALL_FLAGS=--pinned

bench: $(STAMP)
	for b in bench/*.py; do $(VENV)/bin/python $$b; done
