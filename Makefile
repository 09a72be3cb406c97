# The two commands of the README: `make run` and `make test`. Each sets up
# everything first (system packages when root, the virtual environment).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)
CONFIG ?=
SCREENS := rating waiting attract reasons callback thanks thanks_bad thanks_receipt out_of_service sign_in scores technician provision

.PHONY: run test lint postgres bench sysdeps setup frontend wheel console-screens public-screens snapshots snapshots-sizes sounds clean

run: setup
	$(VENV)/bin/evaluator run $(if $(CONFIG),--config $(CONFIG)) $(if $(PANEL),--panel $(PANEL))

# The collector's tests also run on PostgreSQL: deploy/postgres.sh starts a throwaway server (installing
# Debian's package when root) and prints its URL. An EVALUATOR_TEST_PG_URL already set wins; without
# either, those tests skip. The tests run on TEST_WORKERS processes (pytest-xdist; worksteal evens out
# files of very different lengths); each worker has its own servers, databases and browser. The slowest
# tests are listed at the end (--durations): where the 20-minute budget goes. The project's modules are compiled
# first: with PYTHONDONTWRITEBYTECODE set (as on these machines) every process the tests start would otherwise
# compile them again (≈ 0.3 s of each `evaluator` start).
TEST_WORKERS ?= 2
test: setup lint
	@bash deploy/testdeps.sh
	@$(PY) -m compileall -q -j 0 kiosk drivers contract sync centre evaluator tools bench tests >/dev/null
	@url="$${EVALUATOR_TEST_PG_URL:-}"; \
	if [ -z "$$url" ]; then url=$$(bash deploy/postgres.sh) || exit 1; fi; \
	EVALUATOR_TEST_PG_URL="$$url" $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=25

# The design's rules: the import contracts (.importlinter), ruff (ruff.toml) and mypy (mypy.ini).
lint: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/mypy --no-incremental

# Start (or find running) the collector tests' PostgreSQL server and print its URL.
postgres:
	@bash deploy/postgres.sh

bench: setup
	-$(PY) bench/press_to_commit.py
	-$(PY) bench/panel_latency.py
	-$(PY) bench/summary_query.py
	-$(PY) bench/sync_backlog.py
	-$(PY) bench/centre_load.py
	-$(PY) bench/centre_reports.py
	-$(PY) bench/console_pages.py
	-$(PY) bench/integrity_recall.py
	-$(PY) bench/soak.py

setup: sysdeps $(STAMP) frontend

# The console's front-end packages (package.json, pinned in package-lock.json), from the npm registry, copied
# where the centre serves them (centre/console/static/vendor): a hall's intranet has no CDN.
# npm ci also installs the dev dependency axe-core, which tests/public runs in Chromium: never served.
VENDOR := centre/console/static/vendor
frontend: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	touch $@

# The release's wheel (dist/), for a terminal or a centre (docs/operator-guide.md): with the console's front-end
# packages in it, which a plain `pip wheel .` of a fresh clone would leave out.
wheel: setup
	rm -rf build
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps -w dist .

sysdeps:
	@PYTHON=$(PYTHON) bash deploy/sysdeps.sh

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,centre]'
	rm -f $(VENV)/.installed-*
	touch $@

# Screenshots for the README: every screen (citizen and staff), in both languages.
snapshots: setup
	@for screen in $(SCREENS); do for lang in zh en; do \
		$(VENV)/bin/evaluator snapshot $$screen --lang $$lang --config config.yaml \
			--out docs/screenshots/$$screen-$$lang.png >/dev/null 2>&1 || exit 1; \
		echo docs/screenshots/$$screen-$$lang.png; done; done

# Screenshots of the console (docs/screenshots/console/): every page in both languages, on a demo city.
console-screens: setup
	@bash deploy/testdeps.sh
	$(PY) -m tools.console_screens

# Screenshots of the citizen pages (docs/screenshots/public/): every page at a phone's and a desktop's size, in both
# languages, on a demo city (forms also after a submission).
public-screens: setup
	@bash deploy/testdeps.sh
	$(PY) -m tools.public_screens

# The citizen's screens at the sizes terminals have (7" 800x480, 10" 1280x800, 21.5" portrait).
CITIZEN_SCREENS := rating waiting attract reasons callback thanks thanks_bad thanks_receipt out_of_service
SIZES := 800x480 1280x800 1080x1920
snapshots-sizes: setup
	@mkdir -p docs/screenshots/sizes
	@for screen in $(CITIZEN_SCREENS); do for lang in zh en; do for size in $(SIZES); do \
		$(VENV)/bin/evaluator snapshot $$screen --lang $$lang --size $$size --config config.yaml \
			--out docs/screenshots/sizes/$$screen-$$lang-$$size.png >/dev/null 2>&1 || exit 1; \
		echo docs/screenshots/sizes/$$screen-$$lang-$$size.png; done; done; done

# The shipped voice prompts (kiosk/sounds/, committed): chimes synthesized in Python, and the spoken prompts
# (a chime, then espeak-ng's Mandarin or English) when espeak-ng is installed, which it is when run as root.
# Terminals only play the committed files; they need no espeak-ng.
sounds: setup
	@if ! command -v espeak-ng >/dev/null && [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null; fi
	$(PY) -m tools.soundgen

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis node_modules $(VENDOR)
