# xdpbatch: `make demo` and `make test` do all set-up on a fresh machine.

SHELL := /bin/bash
ARCH := $(shell uname -m)
CLANG ?= $(shell command -v clang)
BPF_CFLAGS := -target bpf -O2 -g -I/usr/include/$(ARCH)-linux-gnu -Wall -Werror
APT_PACKAGES := libbpf-dev libxdp-dev libelf-dev libncursesw5-dev linux-libc-dev zlib1g-dev pkg-config iproute2 iputils-ping tmux tcpdump prometheus bpftool
SWIFT_FLAGS ?=
XDPBATCH = $(shell swift build $(SWIFT_FLAGS) --show-bin-path)/xdpbatch
# What users install: `swift build -c release`. The tests that run the
# binary (commands, console in tmux, inspection, datapath) run this one.
RELEASE_BIN = $(shell swift build -c release --show-bin-path)/xdpbatch

# make install PREFIX=... DESTDIR=...: the layout the binary looks in
# (PREFIX/bin/xdpbatch beside PREFIX/share/xdpbatch/{themes,samples}).
PREFIX ?= /usr/local
DESTDIR ?=
ROOT = $(DESTDIR)$(PREFIX)
THEMES := $(wildcard Themes/*.theme)
UNITS := $(wildcard contrib/systemd/*.service)
INSTALLED_FILES = bin/xdpbatch \
	$(patsubst Themes/%,share/xdpbatch/themes/%,$(THEMES)) \
	$(patsubst Samples/%,share/xdpbatch/samples/%,$(SAMPLE_SOURCES) Samples/xdp_common.h) \
	$(patsubst build/samples/%,share/xdpbatch/samples/%,$(SAMPLE_OBJECTS)) \
	share/bash-completion/completions/xdpbatch share/zsh/site-functions/_xdpbatch \
	share/fish/vendor_completions.d/xdpbatch.fish share/man/man1/xdpbatch.1 \
	$(patsubst contrib/systemd/%,lib/systemd/system/%,$(UNITS))

SAMPLE_SOURCES := $(wildcard Samples/*.bpf.c)
SAMPLE_OBJECTS := $(patsubst Samples/%.bpf.c,build/samples/%.o,$(SAMPLE_SOURCES))
CORPUS_SOURCES := $(wildcard Corpus/*.bpf.c)
CORPUS_OBJECTS := $(patsubst Corpus/%.bpf.c,build/corpus/%.o,$(CORPUS_SOURCES))

.PHONY: all deps build release samples corpus test install-check fuzz demo demo-down format clean \
	install uninstall manual vm-test

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

## release: the binary as users build and install it.
release: deps samples
	swift build -c release --product xdpbatch

## test: the whole suite; every test that runs the binary runs the release
## build (XDPBATCH_BINARY); then an installation into a scratch prefix.
test: deps samples corpus release
	swift build --build-tests $(SWIFT_FLAGS)
	XDPBATCH_BINARY=$(RELEASE_BIN) XDPBATCH_EXPECT_BUILD=release swift test --skip-build $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory install-check

## install-check: make install into a scratch prefix, run the installed
## binary from elsewhere, make uninstall, and check that nothing is left.
install-check:
	Tests/install-check.sh

## manual: the man page from swift-argument-parser's generate-manual plugin.
manual: build/man/xdpbatch.1

build/man/xdpbatch.1: release
	@mkdir -p build/man
	swift package plugin generate-manual --date $$(git log -1 --format=%cs 2>/dev/null || date +%F)
	cp .build/plugins/GenerateManual/outputs/xdpbatch/xdpbatch.1 $@

## install: the release binary, themes, samples (sources and objects),
## completions (bash, zsh, fish), the man page and the systemd units.
install: release manual
	install -D -m 0755 $(RELEASE_BIN) $(ROOT)/bin/xdpbatch
	install -d $(ROOT)/share/xdpbatch/themes $(ROOT)/share/xdpbatch/samples
	install -m 0644 $(THEMES) $(ROOT)/share/xdpbatch/themes/
	install -m 0644 $(SAMPLE_SOURCES) Samples/xdp_common.h $(SAMPLE_OBJECTS) $(ROOT)/share/xdpbatch/samples/
	install -d $(ROOT)/share/bash-completion/completions $(ROOT)/share/zsh/site-functions \
	  $(ROOT)/share/fish/vendor_completions.d $(ROOT)/share/man/man1 $(ROOT)/lib/systemd/system
	$(RELEASE_BIN) --generate-completion-script bash > $(ROOT)/share/bash-completion/completions/xdpbatch
	$(RELEASE_BIN) --generate-completion-script zsh > $(ROOT)/share/zsh/site-functions/_xdpbatch
	$(RELEASE_BIN) --generate-completion-script fish > $(ROOT)/share/fish/vendor_completions.d/xdpbatch.fish
	install -m 0644 build/man/xdpbatch.1 $(ROOT)/share/man/man1/xdpbatch.1
	for unit in $(UNITS); do \
	  sed 's|/usr/local/bin/xdpbatch|$(PREFIX)/bin/xdpbatch|g' $$unit \
	    > $(ROOT)/lib/systemd/system/$$(basename $$unit); \
	  chmod 0644 $(ROOT)/lib/systemd/system/$$(basename $$unit); \
	done

## uninstall: removes every file install put, and its own folders.
uninstall:
	rm -f $(addprefix $(ROOT)/,$(INSTALLED_FILES))
	-rmdir $(ROOT)/share/xdpbatch/themes $(ROOT)/share/xdpbatch/samples $(ROOT)/share/xdpbatch 2>/dev/null

## fuzz: libFuzzer with ASan on the object reader (+ check) and on the
## three-oracle differential fuzzer (FuzzDifferential: generated programs
## over the whole of ISA v4 with memory, stack, maps and helpers, run in the
## interpreter and the JIT, per packet and in the batch form, and, as root,
## in the kernel with BPF_PROG_TEST_RUN), FUZZ_SECONDS each, both at once.
## The differential fuzzer's seeds: the samples' XDP sections and the tests
## of bpf_conformance (BPF_CONFORMANCE, a checkout; cloned into build/ when
## missing; none of its files is committed here). FUZZ_RUNS=N also stops it
## after N inputs (the README's figures give the command). Findings
## (crash-*, leak-*, timeout-*) land in build/fuzz/; each log ends with the
## executions compared. Swift's backtracer is off in both, so that a trap
## reaches libFuzzer's handler and is kept as a finding; a fuzzer whose log
## lacks libFuzzer's final figures stopped early, and is one too.
FUZZ_SECONDS ?= 600
FUZZ_RUNS ?= -1
BPF_CONFORMANCE ?= build/bpf_conformance
## FUZZ_SANITIZE=fuzzer builds without ASan (into .build/fuzz-campaign):
## about 5 times the inputs a second, for long campaigns; the engines'
## own checks and the comparison still catch what a program does wrong.
## FUZZ_PACKETS=N runs each generated case on at least N packets.
FUZZ_SANITIZE ?= fuzzer,address
FUZZ_PACKETS ?= 0
FUZZ_BUILD := .build/fuzz$(if $(filter fuzzer,$(FUZZ_SANITIZE)),-campaign)
FUZZ_FLAGS := -c release -Xswiftc -sanitize=$(FUZZ_SANITIZE) -Xswiftc -parse-as-library \
	-Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld --scratch-path $(FUZZ_BUILD)
fuzz: deps samples
	XDPBATCH_FUZZ=1 swift build $(FUZZ_FLAGS) --product FuzzObject
	XDPBATCH_FUZZ=1 swift build $(FUZZ_FLAGS) --product FuzzDifferential
	@test -d $(BPF_CONFORMANCE)/tests || git clone -q --depth 1 \
	    https://github.com/Alan-Jowett/bpf_conformance $(BPF_CONFORMANCE) || { \
	  echo "error: make fuzz seeds from bpf_conformance's tests and cannot clone them;" \
	    "give BPF_CONFORMANCE=<a checkout of https://github.com/Alan-Jowett/bpf_conformance>" >&2; exit 1; }
	@rm -rf build/fuzz && mkdir -p build/fuzz/object build/fuzz/differential build/fuzz/sections
	@cp build/samples/*.o build/fuzz/object/
	@for o in build/samples/*.o; do \
	  for s in $$(llvm-objdump -h $$o | awk '$$2 ~ /^xdp/ {print $$2}'); do \
	    llvm-objcopy -O binary --only-section=$$s $$o build/fuzz/sections/$$(basename $$o .o)-$$(echo $$s | tr / _); \
	  done; done
	$(FUZZ_BUILD)/release/FuzzDifferential --seeds $(BPF_CONFORMANCE)/tests build/fuzz/sections/* build/fuzz/differential
	cd build/fuzz && ( export SWIFT_BACKTRACE=enable=no; \
	  ../../$(FUZZ_BUILD)/release/FuzzObject object -seed=1 -max_len=65536 \
	    -timeout=30 -rss_limit_mb=4096 -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=object- > object.log 2>&1 & \
	  XDPBATCH_FUZZ_PACKETS=$(FUZZ_PACKETS) ../../$(FUZZ_BUILD)/release/FuzzDifferential differential -seed=1 -max_len=4096 -timeout=30 \
	    -rss_limit_mb=4096 -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) -print_final_stats=1 \
	    -artifact_prefix=differential- > differential.log 2>&1 & wait )
	@for f in object differential; do echo "== $$f"; grep -E "^differential:|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" build/fuzz/$$f.log || true; done
	@found=0; ls build/fuzz | grep -E "^(object|differential)-(crash|leak|timeout|oom)" && found=1; \
	for f in object differential; do \
	  grep -q "stat::number_of_executed_units" build/fuzz/$$f.log || { \
	    echo "$$f: stopped before its time, without libFuzzer's final figures (build/fuzz/$$f.log):"; \
	    grep -E "Swift runtime failure|Fatal error|deadly signal|crashed" build/fuzz/$$f.log | head -3; found=1; }; \
	done; \
	if [ $$found = 1 ]; then exit 1; else echo "no findings"; fi

## vm-test: the batch patches (kernel/patches) in a real kernel: builds it
## once under build/kernel (later runs rebuild what changed), boots it under
## qemu and runs kernel/vm/guest/tests there. Not part of `make test`: it
## takes minutes of CPU (a first build 10-20 min on 2 cores). VM_ONLY=REGEX
## runs the matching tests only.
vm-test:
	kernel/vm-test.sh $(if $(VM_ONLY),--only '$(VM_ONLY)')

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
