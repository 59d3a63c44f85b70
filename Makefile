# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make site   - set up, validate data/, compute, render and build the site into site/
#   make test   - set up and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: site test lint test-stats serve check schema references lock clean browser-deps axe

$(STAMP): requirements.lock pyproject.toml
	@echo "Setting up $(VENV): installing the pinned dependencies of requirements.lock (the first time takes about a minute) ..." >&2
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@
	@echo "Dependencies installed." >&2

site: $(STAMP)
	$(BIN)/review build

test: lint axe
	$(BIN)/python -m pytest

# The statistics alone, against metafor's pinned values: seconds, no site is built.
test-stats: $(STAMP)
	$(BIN)/python -m pytest -q tests/stats -m "not build"

# Lint, formatting, the layering of builder/ (pyproject.toml's import contracts) and types.
lint: $(STAMP)
	$(BIN)/ruff check builder tests benchmarks
	$(BIN)/ruff format --check builder tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

# axe-core for the accessibility checks of the browser tests (pinned in package-lock.json). Without npm the
# browser tests are skipped locally; CI has npm and requires them.
axe: $(if $(shell command -v npm),node_modules/axe-core/axe.min.js)

node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# Debian's Chromium for the browser tests (needs root); the tests skip without it unless REQUIRE_BROWSER=1.
browser-deps: node_modules/axe-core/axe.min.js
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

serve: $(STAMP)
	$(BIN)/review serve

check: $(STAMP)
	$(BIN)/review check

# Rewrite the JSON Schemas in docs/schema/ after changing builder/models/.
schema: $(STAMP)
	$(BIN)/review schema

# Regenerate the metafor reference values (needs R with metafor and jsonlite; not needed otherwise).
references:
	for f in tests/reference/*.R; do Rscript $$f; done

# Re-resolve the pinned versions after changing dependencies in pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e ".[test]"
	( sed -n '1,2p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude-editable ) > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:
	rm -rf build site .pytest_cache
