# The two commands (see README.md): `make demo` and `make test`. Both install what is missing,
# configure and build with the release preset (build/), then run.
SHELL := /bin/bash
JOBS ?= $(shell nproc)

.PHONY: all deps build test demo asan-test debug clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

test: build
	@ctest --preset release -j $(JOBS)

demo: build
	@scripts/demo.sh build/omniseg

debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

asan-test: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(JOBS)

clean:
	rm -rf build build-debug build-asan
