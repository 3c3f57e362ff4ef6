# xdpbatch: `make demo` and `make test` do all set-up on a fresh machine.

SHELL := /bin/bash
ARCH := $(shell uname -m)
CLANG ?= $(shell command -v clang)
BPF_CFLAGS := -target bpf -O2 -g -I/usr/include/$(ARCH)-linux-gnu -Wall -Werror
APT_PACKAGES := libbpf-dev libelf-dev libncursesw5-dev linux-libc-dev zlib1g-dev pkg-config iproute2 tmux tcpdump bpftool
SWIFT_FLAGS ?=
XDPBATCH = $(shell swift build $(SWIFT_FLAGS) --show-bin-path)/xdpbatch

SAMPLE_SOURCES := $(wildcard Samples/*.bpf.c)
SAMPLE_OBJECTS := $(patsubst Samples/%.bpf.c,build/samples/%.o,$(SAMPLE_SOURCES))

.PHONY: all deps build samples test demo demo-down format clean

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

build: deps samples
	swift build $(SWIFT_FLAGS)

test: deps samples
	swift build --build-tests $(SWIFT_FLAGS)
	swift test --skip-build $(SWIFT_FLAGS)

## demo: the demo (namespace, veth pair, classifier, generator), then the
## console on its interface. The demo stays up after q: `make demo-down`.
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
