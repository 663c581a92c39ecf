# The two commands of the README's quick start, and what they need.
#   make demo   installs what is missing, starts the local stack and runs the demo end to end
#   make test   installs what is missing and runs every test (unit and integration)
#   make unit   the unit tests alone: no server, about a minute
#   make dashboards   rewrites dashboards/*.json from recordflow/dashboards.py
#   make helm-files   copies the alert rules and dashboards into the Helm chart (helm/recordflow/files/)
#                     and renders its Strimzi resources
#   make screenshots  runs the demo, then photographs the console's pages into docs/screenshots/
#   make image   builds the container image localhost/recordflow:<version> with buildah, from a
#                debootstrapped Debian 12 and the project's wheel (scripts/build-image.sh; as root)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test unit lint dashboards helm-files screenshots bench image deps stack-down clean

demo: deps
	$(BIN)/recordflow demo

# In two processes, a test file to each at a time (the servers wait more than they work); then,
# alone, the tests that stop and start the stack's servers.
test: deps
	$(BIN)/python -m pytest -ra -n 2 --dist loadfile -m "not chaos"
	$(BIN)/python -m pytest -ra -m chaos

unit: deps
	$(BIN)/python -m pytest -ra tests/unit

lint: deps
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/mypy scripts/screenshots.py && $(BIN)/lint-imports

dashboards: deps
	$(BIN)/python -m recordflow.dashboards dashboards

# A chart reads only files inside its folder: these are copies of recordflow/alerts/ and dashboards/,
# which tests/helm/test_chart.py checks are the same bytes. Run it after `make dashboards`, and
# after changing the topic catalog, the agency registry or the ACLs: files/strimzi/ is
# `recordflow topics render strimzi` with Settings' defaults (no RECORDFLOW_* from the caller's
# environment), which the chart renames for its values; tests/helm/test_strimzi.py checks both.
helm-files: deps
	rm -rf helm/recordflow/files/alerts helm/recordflow/files/dashboards helm/recordflow/files/strimzi
	mkdir -p helm/recordflow/files/alerts helm/recordflow/files/dashboards helm/recordflow/files/strimzi
	cp recordflow/alerts/*.yaml helm/recordflow/files/alerts/
	cp dashboards/*.json helm/recordflow/files/dashboards/
	env $$(env | sed -n 's/^\(RECORDFLOW_[A-Z0-9_]*\)=.*/-u \1/p') $(BIN)/recordflow topics render strimzi \
		> helm/recordflow/files/strimzi/resources.yaml

screenshots: demo
	PYTHONPATH=. $(BIN)/python scripts/screenshots.py docs/screenshots

bench: deps
	$(BIN)/recordflow bench --records 200 --size 10KB --json

# Into buildah's storage under .recordflow/image/ (docs/deploy.md, "The container image"); the
# second build reuses the Debian base and the dependencies' layer.
image: deps
	PYTHON=$(BIN)/python scripts/build-image.sh

stack-down:
	$(BIN)/recordflow stack down

deps: $(VENV)/.installed

# System tools (Java 17, Maven, Go, Prometheus) come from apt when missing; Python deps into .venv.
$(VENV)/.installed: pyproject.toml scripts/install-system-deps.sh
	scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
