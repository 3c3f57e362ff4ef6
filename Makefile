# xdpbatch: `make demo` and `make test` do all set-up on a fresh machine.

SHELL := /bin/bash
ARCH := $(shell uname -m)
CLANG ?= $(shell command -v clang)
BPF_CFLAGS := -target bpf -O2 -g -I/usr/include/$(ARCH)-linux-gnu -Wall -Werror
APT_PACKAGES := libbpf-dev libxdp-dev libelf-dev libncursesw5-dev linux-libc-dev zlib1g-dev pkg-config iproute2 tmux tcpdump prometheus bpftool
SWIFT_FLAGS ?=
XDPBATCH = $(shell swift build $(SWIFT_FLAGS) --show-bin-path)/xdpbatch

SAMPLE_SOURCES := $(wildcard Samples/*.bpf.c)
SAMPLE_OBJECTS := $(patsubst Samples/%.bpf.c,build/samples/%.o,$(SAMPLE_SOURCES))
CORPUS_SOURCES := $(wildcard Corpus/*.bpf.c)
CORPUS_OBJECTS := $(patsubst Corpus/%.bpf.c,build/corpus/%.o,$(CORPUS_SOURCES))

.PHONY: all deps build samples corpus test fuzz demo demo-down format clean

all: build

## deps: install the system packages the build needs (quiet when present).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "error: need root to install $$missing (apt-get)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## samples: compile the bundled BPF C programs with the toolchain's clang.
samples: $(SAMPLE_OBJECTS)

build/samples/%.o: Samples/%.bpf.c Samples/xdp_common.h | deps
	@mkdir -p build/samples
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

## corpus: compile the rewriter's test corpus (programs written for this
## project's tests, not samples) the same way.
corpus: $(CORPUS_OBJECTS)

build/corpus/%.o: Corpus/%.bpf.c Samples/xdp_common.h | deps
	@mkdir -p build/corpus
	$(CLANG) $(BPF_CFLAGS) -ISamples -c $< -o $@

build: deps samples
	swift build $(SWIFT_FLAGS)

test: deps samples corpus
	swift build --build-tests $(SWIFT_FLAGS)
	swift test --skip-build $(SWIFT_FLAGS)

## fuzz: libFuzzer with ASan on the object reader (+ check) and on the engine
## (+ rewriter), FUZZ_SECONDS each, both at once; seeds from the samples.
## Findings (crash-*, leak-*, timeout-*) land in build/fuzz/; the last lines of
## each log give the executions.
FUZZ_SECONDS ?= 600
FUZZ_FLAGS := -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
	-Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld --scratch-path .build/fuzz
fuzz: deps samples
	XDPBATCH_FUZZ=1 swift build $(FUZZ_FLAGS) --product FuzzObject
	XDPBATCH_FUZZ=1 swift build $(FUZZ_FLAGS) --product FuzzEngine
	@rm -rf build/fuzz && mkdir -p build/fuzz/object build/fuzz/engine
	@cp build/samples/*.o build/fuzz/object/
	@for o in build/samples/*.o; do \
	  for s in $$(llvm-objdump -h $$o | awk '$$2 ~ /^xdp/ {print $$2}'); do \
	    llvm-objcopy -O binary --only-section=$$s $$o build/fuzz/engine/$$(basename $$o .o)-$$(echo $$s | tr / _); \
	  done; done
	cd build/fuzz && ( ../../.build/fuzz/release/FuzzObject object -seed=1 -max_len=65536 \
	    -timeout=30 -rss_limit_mb=4096 -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=object- > object.log 2>&1 & \
	  ../../.build/fuzz/release/FuzzEngine engine -seed=1 -max_len=4096 -timeout=30 \
	    -rss_limit_mb=4096 -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=engine- > engine.log 2>&1 & wait )
	@for f in object engine; do echo "== $$f"; grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" build/fuzz/$$f.log || true; done
	@ls build/fuzz | grep -E "^(object|engine)-(crash|leak|timeout|oom)" && exit 1 || echo "no findings"

## demo: the demo (namespace, veth pair, classifier, generator), then the
## console on its interface, from the release build (what users install:
## the debug build's engine is 10-30x slower, and its figures mislead).
## The demo stays up after q: `make demo-down`.
demo demo-down: SWIFT_FLAGS += -c release
demo: build
	@if [ "$$(id -u)" -ne 0 ]; then echo "error: the demo needs root (namespaces, BPF)" >&2; exit 1; fi
	$(XDPBATCH) demo up --object build/samples/xdp_classify.o
	@$(XDPBATCH) console --interface xdpbatch0
	@echo "the demo is still up: \`make demo-down\` removes it"

demo-down:
	$(XDPBATCH) demo down

format:
	swift-format format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build build
