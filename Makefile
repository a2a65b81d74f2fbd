# The two commands a newcomer needs:  make demo  (OCR the sample)  and  make test  (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-slow serve install install-dev browser bench-setup clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# The tests need the vlm engine too (requirements-vlm.txt: transformers, torch), which the CPU
# runtime set (requirements.txt, the CPU image and `make demo`) leaves out.
$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt requirements-vlm.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# checkov pins packages that clash with the runtime's, so it lives in a venv of its own.
.venv-tools/.checkov: infra/requirements-checkov.txt
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install -q -r infra/requirements-checkov.txt
	touch $@

# gcloud-tasks-emulator (the local Cloud Tasks queue) needs protobuf<5, which clashes with the
# runtime's protobuf: a venv of its own too. Tests and the local loop start it from there.
.venv-tasks/.emulator: tests/requirements-tasks-emulator.txt
	$(PYTHON) -m venv .venv-tasks
	.venv-tasks/bin/pip install -q -r tests/requirements-tasks-emulator.txt
	touch $@

# Debian's chromium for the web page's browser tests (tests/test_webui_*.py). Playwright's Python
# client drives this system browser; nothing downloads one (never `playwright install`).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium; }
	@chromium --version 2>/dev/null

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev .venv-tools/.checkov .venv-tasks/.emulator browser

demo: install  ## OCR the bundled sample with the embedded CPU engine: no GPU, no cloud, no download
	OCR_ENGINE=lite $(PY) main.py ocr samples/sample.pdf

test: install-dev  ## the test suite without the long hardening runs (what CI runs)
	$(PY) -m pytest

test-slow: install-dev  ## the long suites too (hardening soak, load)
	$(PY) -m pytest -m "slow or not slow" --timeout=1800

# Only for bench/vs_tesseract.py (not part of make test): Debian's Tesseract 5 with English data.
bench-setup:  ## install tesseract-ocr for the lite-vs-Tesseract benchmark (apt, needs root or sudo)
	command -v tesseract >/dev/null || { $$(command -v sudo) apt-get update && $$(command -v sudo) apt-get install -y tesseract-ocr tesseract-ocr-eng; }
	tesseract --version | head -1

serve: install  ## the HTTP function on http://127.0.0.1:8080
	$(PY) main.py serve

clean:
	rm -rf $(VENV) .pytest_cache
