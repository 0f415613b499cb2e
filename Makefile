# Thin wrapper around CMake. `make test` and `make demo` first install any
# missing Debian packages (scripts/install-deps.sh, a no-op when all are there);
# `make test` also headless Chromium (--browser), for the report's browser tests.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build deps test sanitize lsan soak fuzz demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps build
	@bash scripts/install-deps.sh --browser --fuzz
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# C tests, then the Lua specs (plain lua5.4 loading the instrumented core.so,
# so libasan is preloaded; leak checks only for the C tests, as Lua's own
# interpreter leaves its state to the OS at exit).
# The C code is instrumented; CUDA files (nvcc takes no -fsanitize) are not.
# protect_shadow_gap=0 lets the CUDA driver map memory on a GPU machine.
sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSGEN_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=1:protect_shadow_gap=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -R '^c\.'
	cd $(SANITIZE_BUILD) && LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -R '^lua\.'

# LeakSanitizer over a Lua run of each experiment's --quick preset (issue 18):
# the sanitize flags at -O2 (a Debug build takes ~30 min per preset), one
# `sgen run` per experiments/*.lua; logs in LSAN_LOGS. tools/lsan.supp says
# what is suppressed and why.
LSAN_BUILD ?= build-sanitize-rel
LSAN_LOGS ?= $(LSAN_BUILD)/lsan-logs
lsan: deps
	@cmake -S . -B $(LSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSGEN_SANITIZE=ON -DBUILD_TESTING=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(LSAN_BUILD) -j $(JOBS) --target sgen_exe
	sh tools/lsan_experiments.sh $(LSAN_BUILD) $(LSAN_LOGS)

# Soak (issue 18): 10,000 small training steps with host memory (RSS and
# sg.memory_stats()) flat, then 1,000 save/load/PNG/JSON cycles with the open
# file descriptors flat (tools/soak.lua; about 5 min on 2 idle cores). The
# short form runs in ctest as lua.soak.
SOAK_STEPS ?= 10000
SOAK_IO ?= 1000
soak: deps build
	OMP_WAIT_POLICY=passive $(BUILD)/bin/sgen run tools/soak.lua --steps=$(SOAK_STEPS) --io=$(SOAK_IO)

# libFuzzer harnesses (fuzz/, docs/reliability.md): a clang tree with ASan +
# UBSan in $(FUZZ_BUILD), each harness run FUZZ_SECONDS on its corpus; fails
# on any crash (inputs kept in $(FUZZ_BUILD)/artifacts/).
fuzz:
	@bash scripts/install-deps.sh --fuzz
	JOBS=$(JOBS) bash fuzz/run.sh --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS)

# The README's demo: Deep Image Prior denoising of a shipped image with the
# three variants (vanilla, L0, L0,inf) at a small scale (about a minute on 2 cores).
DEMO_OUT ?= runs/demo
demo: deps build
	$(BUILD)/bin/sgen run experiments/dip_denoise.lua --demo --out=$(DEMO_OUT)
	@$(BUILD)/bin/sgen report $(DEMO_OUT) --title "make demo: DIP denoising, three variants" >/dev/null
	@echo
	@echo "demo images: $(DEMO_OUT)/noisy.png and $(DEMO_OUT)/<variant>/best_average.png,"
	@echo "PSNR curves: $(DEMO_OUT)/<variant>/psnr.svg, table: $(DEMO_OUT)/table.md"
	@echo "report, the three variants side by side (open it in a browser): $(DEMO_OUT)/report.html"

bench: deps build
	@bash scripts/install-deps.sh --bench
	@bash bench/peer_venv.sh || echo "make bench: warning: no PyPI torch peer (bench/peer_venv.sh failed): Debian's torch only" >&2
	BUILD=$(BUILD) bash bench/run_bench.sh
	BUILD=$(BUILD) bash bench/step_table.sh

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(FUZZ_BUILD)
