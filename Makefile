# A thin wrapper over CMake: `make demo` and `make test` install what is missing, configure
# once, build what changed, and run.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
VKQUILL = $(BUILD)/vkquill

.PHONY: all deps build test demo clean

all: build

deps:
	@sh tools/install-deps.sh

build: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	$(VKQUILL) devices
	$(VKQUILL) demo --out runs/demo

clean:
	rm -rf $(BUILD)
