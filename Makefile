# cxrlab — the front door. Every target first makes sure the Debian build dependencies are
# installed (as root it installs them; otherwise it prints the apt-get command to run).
#
#   make              release build (-O2). NATIVE=1 adds -march=native.
#   make test         build and run the whole suite through ctest
#   make test-asan    the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make goldens      regenerate the PyTorch parity fixtures in tests/goldens (needs python3-torch)
#   make clean

BUILD_DEPS := g++ cmake make doctest-dev libstb-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libdcmtk-dev
GOLDEN_DEPS := python3 python3-torch python3-numpy python3-pil python3-torchvision
JOBS ?= $(shell nproc)
NATIVE ?= 0
CMAKE_FLAGS := -DCXR_NATIVE=$(if $(filter 1,$(NATIVE)),ON,OFF)

.PHONY: all build deps test test-asan goldens clean

all: build

deps:
	@tools/ensure_deps.sh $(BUILD_DEPS)

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	@cmake --build build -j $(JOBS)

test: build
	@cd build && ctest -j $(JOBS) --output-on-failure

test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCXR_SANITIZE=ON > /dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -j $(JOBS) --output-on-failure

goldens:
	@tools/ensure_deps.sh $(GOLDEN_DEPS)
	@/usr/bin/python3 tools/make_goldens.py
	@/usr/bin/python3 tools/make_tokenizer_fixtures.py

clean:
	rm -rf build build-asan
