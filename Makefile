# A thin wrapper over CMake: `make demo` and `make test` install what is missing, configure
# once, build what changed, and run. `make test-sanitize` runs the same tests built with
# AddressSanitizer and UBSan in their own build directory, and `make fuzz` every parser's
# libFuzzer harness for FUZZ_SECONDS each.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
VKQUILL = $(BUILD)/vkquill

.PHONY: all deps configure build test test-sanitize fuzz demo clean

all: build

deps:
	@sh tools/install-deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-sanitize: deps
	@test -f $(SANITIZE_BUILD)/CMakeCache.txt || \
	    cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVKQ_SANITIZE=ON
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	@cd $(SANITIZE_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: deps
	@test -f $(FUZZ_BUILD)/CMakeCache.txt || CC=clang \
	    cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKQ_FUZZ=ON -DVKQ_MPI=OFF
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target vkquill
	$(VKQUILL) devices
	$(VKQUILL) demo --out runs/demo

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(FUZZ_BUILD)
