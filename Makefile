# The README's set-up commands. Each creates .venv and installs ganspect first, from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Torch is installed before ganspect so that pip never resolves an unpinned torch (a CUDA build of several GB)
# here; where torch is already in the venv it is kept. Elsewhere, override: make TORCH=torch==2.5.1 test
TORCH ?= torch==2.13.0

.PHONY: install demo test bench bench-real bench-select bench-proxy bench-textures bench-serve lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: install
	$(BIN)/ganspect demo --out demo_out

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -q

# speed and memory: about 6 minutes on two CPU cores, no data needed
bench: install
	$(BIN)/python benchmarks/speed.py --out bench_out/speed.json
	$(BIN)/python benchmarks/memory.py --out bench_out/memory.json

# every detector on the cookies (real photos with masks), 3 seeds, baselines included; needs ../shared/data
COOKIES ?= ../shared/data/cookies
bench-real: install
	$(BIN)/python benchmarks/real_images.py --data $(COOKIES) --out bench_out/real-$$(date +%Y%m%d-%H%M%S)

# ganspect.select over the six detectors on the cookies, 3 seeds: which it keeps and its test figures; needs ../shared/data
bench-select: install
	$(BIN)/python benchmarks/real_images.py --data $(COOKIES) --out bench_out/select-$$(date +%Y%m%d-%H%M%S) \
		--detectors "validation picks a detector (ganspect.select)"

# does the validation proxy track the test, round by round? GAN detectors on the cookies, 3 seeds; needs ../shared/data
bench-proxy: install
	$(BIN)/python benchmarks/proxy_tracking.py --data $(COOKIES) --out bench_out/proxy-$$(date +%Y%m%d-%H%M%S)

# RepairGAN and the baselines on three textures, defects of kinds never trained on; 3 seeds; needs ../shared/data
TEXTURES ?= ../shared/data/textures
bench-textures: install
	$(BIN)/python benchmarks/textures.py --data $(TEXTURES) --out bench_out/textures-$$(date +%Y%m%d-%H%M%S)

# ganspect serve under load from a second process on loopback (2,000 requests at concurrency 1, 8, 32)
bench-serve: install
	$(BIN)/python benchmarks/serve_load.py --data $(COOKIES) --out bench_out/serve-$$(date +%Y%m%d-%H%M%S)

clean:
	rm -rf $(VENV) demo_out bench_out
