# cxrlab — the front door. Every target first makes sure the Debian build dependencies are
# installed (as root it installs them; otherwise it prints the apt-get command to run).
#
#   make              release build (-O2). NATIVE=1 adds -march=native.
#   make test         build and run the whole suite through ctest
#   make test-asan    the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make goldens      regenerate the parity fixtures in tests/goldens (python3-torch; python3-sklearn for metrics)
#   make bench        the Google Benchmark microbenchmarks (bench/bench_*.cpp)
#   make bench-compare  cxrlab vs PyTorch in one run (bench/compare.py): SGEMM 1024^3, resnet256_6_2_1
#                     train step and inference at batch 8, the 4-layer text encoder's train step at
#                     batch 8 x 320; medians, ratios, peak RSS; JSON in
#                     bench/results/. THREADS=2 (default), ITERS=10, ROUNDS=3.
#   make peer-openblas  unpack Debian's OpenBLAS into build/peer-openblas (not installed system-wide)
#                     so bench-compare's PyTorch uses it for SGEMM instead of the reference BLAS
#   make demo         the whole pipeline on synthetic phantoms (tools/demo.sh): labels, text encoder,
#                     the METHODS.md §12 experiment table, the HTML report; about 15 minutes on 2 cores
#   make covid        the same methods on ../shared/data/covid-cxr (tools/covid.sh; docs/RESULTS.md)
#   make test-cuda-emulated  the CUDA kernels compiled for the CPU emulator (cuda/emulator.h) and the
#                     CUDA tests run on it: the backend checked against the CPU without a GPU
#   make bench-distributed  data-parallel scaling on this machine (bench/distributed.sh): 1 process x 2
#                     threads against mpirun -np 2 x 1 thread, step time and all-reduce wait; needs
#                     OpenMPI (DIST_DEPS, installed as root); docs/DISTRIBUTED.md
#   make gpu-check    on a machine with an NVIDIA GPU: build with CUDA, every GPU test, the GPU
#                     timings, one JSON (tools/gpu_check.sh; docs/CUDA.md). GPU_CHECK_OUT=DIR
#   make fuzz         the libFuzzer harnesses of tests/fuzz/ (clang, ASan + UBSan, build-fuzz/), each for
#                     FUZZ_RUNS executions (default 100000): executions, coverage, crashes per harness
#                     (tools/fuzz.sh; docs/RELIABILITY.md). `make test` replays their corpus without clang.
#   make fuzz-smoke   the same for FUZZ_SECONDS (default 20) of wall time per harness, JOBS at once (CI)
#   make clean

BUILD_DEPS := g++ cmake make doctest-dev libstb-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libdcmtk-dev
# Optional: OpenMPI for `cxr train --distributed` (CMake finds it when installed; without it the flag
# says "built without MPI"). Only bench-distributed requires it.
DIST_DEPS := libopenmpi-dev openmpi-bin
FUZZ_DEPS := clang libclang-rt-14-dev
FUZZ_RUNS ?= 100000
FUZZ_SECONDS ?= 20
GOLDEN_DEPS := python3 python3-torch python3-numpy python3-pil python3-torchvision python3-sklearn
THREADS ?= 2
ITERS ?= 10
ROUNDS ?= 3
JOBS ?= $(shell nproc)
NATIVE ?= 0
CMAKE_FLAGS := -DCXR_NATIVE=$(if $(filter 1,$(NATIVE)),ON,OFF)
# The CUDA toolkit lives at /usr/local/cuda on these machines, which need not be on PATH: CMake
# finds nvcc through CUDACXX. Without one the backend is simply not built.
ifeq ($(origin CUDACXX), undefined)
  CUDACXX := $(firstword $(wildcard /usr/local/cuda/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
endif
ifneq ($(CUDACXX),)
  export CUDACXX
endif

.PHONY: all build deps test test-asan test-cuda-emulated gpu-check goldens bench bench-compare bench-distributed peer-openblas demo covid fuzz fuzz-smoke clean

all: build

deps:
	@tools/ensure_deps.sh $(BUILD_DEPS)

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	@cmake --build build -j $(JOBS)

test: build
	@cd build && ctest -j $(JOBS) --output-on-failure

test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCXR_SANITIZE=ON -DCXR_CUDA=OFF > /dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -j $(JOBS) --output-on-failure

test-cuda-emulated: deps
	@cmake -S . -B build-cuda-emu -DCMAKE_BUILD_TYPE=Release -DCXR_PIPELINE=OFF -DCXR_CUDA_EMULATION=ON > /dev/null
	@cmake --build build-cuda-emu -j $(JOBS)
	@cd build-cuda-emu && ctest -j $(JOBS) --output-on-failure

gpu-check: deps
	@tools/gpu_check.sh

goldens:
	@tools/ensure_deps.sh $(GOLDEN_DEPS)
	@/usr/bin/python3 tools/make_goldens.py
	@/usr/bin/python3 tools/make_tokenizer_fixtures.py

bench: build
	@CXR_THREADS=$(THREADS) ./build/cxr_bench --benchmark_min_time=0.5

# DEVICE=cuda: the GPU rows (hand kernels, cuBLAS/cuDNN, PyTorch where it has CUDA); installs
# nothing, since a GPU machine may have no package mirror and Debian's PyTorch is CPU-only.
DEVICE ?= cpu
bench-compare: build
ifeq ($(DEVICE),cuda)
	@/usr/bin/python3 bench/compare.py --device cuda --threads $(THREADS) --iters $(ITERS) --rounds $(ROUNDS)
else
	@tools/ensure_deps.sh $(GOLDEN_DEPS)
	@/usr/bin/python3 bench/compare.py --threads $(THREADS) --iters $(ITERS) --rounds $(ROUNDS)
endif

bench-distributed: deps
	@tools/ensure_deps.sh $(DIST_DEPS) python3
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	@cmake --build build -j $(JOBS) --target cxr
	@bench/distributed.sh

peer-openblas:
	@mkdir -p build/peer-openblas
	@cd build/peer-openblas && apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb . && rm -f *.deb
	@ls build/peer-openblas/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3

# The demo needs only the cxr binary, not the tests or benchmarks.
demo: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	@cmake --build build -j $(JOBS) --target cxr
	@THREADS=$(THREADS) tools/demo.sh

covid: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	@cmake --build build -j $(JOBS) --target cxr
	@THREADS=$(THREADS) tools/covid.sh

fuzz: deps
	@tools/ensure_deps.sh $(FUZZ_DEPS)
	@JOBS=$(JOBS) tools/fuzz.sh run $(FUZZ_RUNS)

fuzz-smoke: deps
	@tools/ensure_deps.sh $(FUZZ_DEPS)
	@JOBS=$(JOBS) tools/fuzz.sh smoke $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-cuda-emu build-gpu build-fuzz
