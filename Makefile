# The two set-up commands of the README:
#   make demo   installs everything, renders a dataset, trains, evaluates, writes a GIF
#   make test   installs everything and runs the test suite
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: install demo demo-quick test bench

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $@

demo: $(STAMP)
	$(VENV)/bin/gqn demo

demo-quick: $(STAMP)
	$(VENV)/bin/gqn demo --quick

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	for b in bench/*.py; do $(VENV)/bin/python $$b; done
