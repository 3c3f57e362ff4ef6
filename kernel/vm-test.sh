#!/bin/bash
# `make vm-test`: builds the patched kernel (once; later runs reuse it and
# rebuild only what a changed patch touches), boots it under qemu with the
# host's root read-only over 9p, runs the in-guest tests and fails unless
# every one passed within the time limit.
#
#   kernel/vm-test.sh [--only REGEX] [--build-only] [--figures]
#
# --figures runs kernel/vm/guest/figures.sh instead of the tests, with
# qemu's -icount shift=0 (one emulated nanosecond per guest instruction),
# and writes build/kernel/figures.json and figures.md.
#
# Environment: VM_TIMEOUT (seconds the guest may run, default 2400),
# VM_MEMORY (default 1024 MiB), VM_CPUS (default 2), JOBS (make -j),
# VM_TOOL_SWAPS (xdpbatch swaps under traffic in 70-tool, default 25).
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
kernel_dir=$project/kernel
out=$project/build/kernel
source "$kernel_dir/source.env"
src=$out/src/$LINUX_DIRECTORY
obj=$out/obj
only=
build_only=false
figures=false
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only=$2; shift 2 ;;
	--build-only) build_only=true; shift ;;
	--figures) figures=true; shift ;;
	*) echo "usage: kernel/vm-test.sh [--only REGEX] [--build-only] [--figures]" >&2; exit 2 ;;
	esac
done

step() { printf '\n== %s\n' "$*"; }
die() { echo "vm-test: error: $*" >&2; exit 1; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

# Runs a long command in the background, printing what it is doing every
# 30 seconds: $1 describes the work, $2 is its log, $3 a command that
# prints its progress from the log.
with_progress() {
	local what=$1 log=$2 progress=$3 pid start status
	shift 3
	start=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 30); do
			sleep 1
			kill -0 "$pid" 2>/dev/null || break
		done
		kill -0 "$pid" 2>/dev/null && echo "  $what: $(eval "$progress") ($(elapsed "$start"))"
	done
	status=0
	wait "$pid" || status=$?
	if [ "$status" -ne 0 ]; then
		tail -30 "$log" >&2
		die "$what failed (log: $log)"
	fi
	echo "  $what: done ($(elapsed "$start"))"
}

[ "$(id -u)" -eq 0 ] || die "needs root (apt, BPF and namespaces in the guest are the host's user's)"
mkdir -p "$out"

step "packages"
packages=("$LINUX_PACKAGE=$LINUX_VERSION" qemu-system-x86 dwarves bc flex bison libssl-dev
	libelf-dev busybox-static cpio libbpf-dev bpftool iproute2 gcc make tmux python3)
missing=()
for package in "${packages[@]}"; do
	name=${package%%=*}
	want=${package#*=}
	have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
	if [[ "$have" != "install ok installed"* ]] ||
		{ [ "$name" != "$package" ] && [ "${have##* }" != "$want" ]; }; then
		missing+=("$package")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "  installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade "${missing[@]}" >/dev/null
fi
echo "  $LINUX_PACKAGE $LINUX_VERSION, $(qemu-system-x86_64 --version | head -1)"

step "kernel source"
[ -r "$LINUX_TARBALL" ] || die "$LINUX_TARBALL is missing"
sum=$(sha256sum "$LINUX_TARBALL" | cut -d' ' -f1)
[ "$sum" = "$LINUX_SHA256" ] ||
	die "$LINUX_TARBALL has SHA-256 $sum, not the pinned $LINUX_SHA256 (kernel/source.env)"
echo "  $LINUX_TARBALL: SHA-256 matches kernel/source.env"
if [ "$(cat "$out/src.sha256" 2>/dev/null)" != "$sum" ]; then
	rm -rf "$out/src" "$out/applied" "$obj"
	mkdir -p "$out/src"
	with_progress "extracting" "$out/extract.log" \
		"du -sh $out/src | cut -f1" tar -xJf "$LINUX_TARBALL" -C "$out/src"
	echo "$sum" >"$out/src.sha256"
fi

step "patches"
# build/kernel/applied holds a copy of each patch applied, in order. The
# first patch that differs from kernel/patches and every later one are
# taken out again (patch -R) and the new ones applied one by one, so that
# make rebuilds only what they touch.
mkdir -p "$out/applied"
mapfile -t series <"$kernel_dir/patches/series"
mapfile -t applied < <(cd "$out/applied" && ls -1 2>/dev/null | sort)
keep=0
while [ $keep -lt ${#applied[@]} ] && [ $keep -lt ${#series[@]} ] &&
	[ "${applied[$keep]}" = "$(printf '%04d' $keep)-${series[$keep]}" ] &&
	cmp -s "$out/applied/${applied[$keep]}" "$kernel_dir/patches/${series[$keep]}"; do
	keep=$((keep + 1))
done
for ((i = ${#applied[@]} - 1; i >= keep; i--)); do
	echo "  reverting ${applied[$i]#*-}"
	patch -d "$src" -p1 -R --batch --quiet <"$out/applied/${applied[$i]}" ||
		die "cannot revert ${applied[$i]}; remove $out to start from the tarball"
	rm "$out/applied/${applied[$i]}"
done
for ((i = keep; i < ${#series[@]}; i++)); do
	patch_file=$kernel_dir/patches/${series[$i]}
	patch -d "$src" -p1 --forward --batch --dry-run --quiet <"$patch_file" >/dev/null ||
		die "${series[$i]} does not apply to $LINUX_PACKAGE $LINUX_VERSION"
	patch -d "$src" -p1 --forward --batch --quiet <"$patch_file"
	cp "$patch_file" "$out/applied/$(printf '%04d' "$i")-${series[$i]}"
	echo "  applied ${series[$i]}"
done
[ $keep -eq ${#series[@]} ] && echo "  all ${#series[@]} patches already applied"

step "configuration"
mkdir -p "$obj"
if ! cmp -s "$kernel_dir/xdpbatch.config" "$out/config.fragment" || [ ! -e "$obj/.config" ]; then
	make -s -C "$src" O="$obj" allnoconfig KCONFIG_ALLCONFIG="$kernel_dir/xdpbatch.config" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	cp "$kernel_dir/xdpbatch.config" "$out/config.fragment"
fi
# Every option the fragment sets must have stuck (a missing dependency
# turns an option off silently).
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) grep -qx "# ${line%=n} is not set" "$obj/.config" || die "$line did not stick" ;;
	CONFIG_*) grep -qx "$line" "$obj/.config" || die "$line did not stick (see $obj/.config)" ;;
	esac
done <"$kernel_dir/xdpbatch.config"
echo "  $(grep -c '=y' "$obj/.config") options on, fragment kernel/xdpbatch.config applied"

step "kernel build"
image=$obj/arch/x86/boot/bzImage
before=$(stat -c %Y "$image" 2>/dev/null || echo 0)
with_progress "building" "$out/build.log" \
	"echo \$(grep -c '^  CC' $out/build.log) files compiled" \
	nice -n 10 make -C "$src" O="$obj" -j"${JOBS:-$(nproc)}" bzImage
after=$(stat -c %Y "$image")
if [ "$after" = "$before" ]; then
	echo "  bzImage unchanged: nothing to rebuild"
else
	echo "  bzImage: $(du -h "$image" | cut -f1), $(grep -c '^  CC' "$out/build.log") files compiled"
fi
$build_only && exit 0

step "test programs"
make -s -C "$project" samples
with_progress "swift build -c release" "$out/swift.log" "tail -1 $out/swift.log" \
	swift build --package-path "$project" -c release --product xdpbatch
mkdir -p "$out/test"
gcc -O2 -Wall -Wextra -Werror -o "$out/test/batchctl" "$kernel_dir/tests/batchctl.c" -lbpf
record=$(bpftool btf dump file "$obj/vmlinux" |
	sed -n "s/.*STRUCT 'xdp_buff' size=\([0-9]*\).*/\1/p" | head -1)
[ -n "$record" ] || die "the built kernel's BTF has no struct xdp_buff"
# batch_walks.o: the same without the program calling the kfunc, for
# xdpbatch, whose object reader refuses external symbols.
for variant in batch_programs:"" batch_walks:-DWITHOUT_KFUNC_CALLS; do
	clang -target bpf -O2 -g -Wall -Werror -I"/usr/include/$(uname -m)-linux-gnu" \
		-DXDP_RECORD_SIZE="$record" ${variant#*:} -c "$kernel_dir/tests/batch_programs.bpf.c" \
		-o "$out/test/${variant%%:*}.o"
done
rm -rf "$out/initramfs"
mkdir -p "$out/initramfs/bin"
cp "$(command -v busybox)" "$out/initramfs/bin/busybox"
cp "$kernel_dir/vm/init" "$out/initramfs/init"
(cd "$out/initramfs" && find . | cpio -o -H newc --quiet | gzip -9 >"$out/initramfs.cpio.gz")
echo "  release xdpbatch, samples, batchctl, hand-written batch programs ($record-byte records), initramfs"

step "guest (qemu, software emulation: this takes minutes)"
console=$out/console.log
guest_script=$kernel_dir/vm/guest/run.sh
accel=(-accel tcg)
if $figures; then
	console=$out/figures-console.log
	guest_script=$kernel_dir/vm/guest/figures.sh
	# the guest's clock counts its instructions: 1 ns each
	accel=(-accel tcg -icount shift=0,sleep=off)
fi
timeout=${VM_TIMEOUT:-2400}
# no_timer_check: on a loaded host the emulated guest can miss the timer
# interrupts the kernel's IO-APIC check waits for, and panics at boot.
start=$(date +%s)
status=0
timeout "$timeout" qemu-system-x86_64 "${accel[@]}" -m "${VM_MEMORY:-1024}" \
	-smp "${VM_CPUS:-2}" -nographic -no-reboot -net none \
	-kernel "$image" -initrd "$out/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet no_timer_check xdpbatch.run=$guest_script${only:+ xdpbatch.only=$only}${VM_TOOL_SWAPS:+ xdpbatch.tool_swaps=$VM_TOOL_SWAPS}" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null 2>&1 |
	sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tee "$console" |
	grep --line-buffered -E '^(xdpbatch-(vm|figure)|  )' || status=${PIPESTATUS[0]}
echo "  guest ran $(elapsed "$start")"
if $figures; then
	sed -n 's/^xdpbatch-figure //p' "$console" >"$out/figures.json"
	/usr/bin/python3 "$kernel_dir/tests/figures_table.py" "$out/figures.json" >"$out/figures.md"
	cat "$out/figures.md"
else
	grep '^  [0-9a-z-]*: figure: ' "$console" | sed 's/^  [0-9a-z-]*: figure: //' >"$out/figures.txt" || true
fi

# isa-debug-exit: qemu exits with (status << 1) | 1, so 1 means the guest
# script exited 0; 124 is timeout's.
result=$(grep -m1 '^xdpbatch-vm: result ' "$console" || true)
if [ "$status" -eq 124 ]; then
	die "the guest did not finish within $timeout s (console: $console)"
elif [ -z "$result" ]; then
	die "the guest stopped without a result, qemu status $status (console: $console)"
elif [ "$status" -ne 1 ] || [[ "$result" != *PASSED* ]]; then
	die "$result (qemu status $status; console: $console)"
fi
echo "vm-test: ${result#xdpbatch-vm: result }; figures in $out/figures.$($figures && echo md || echo txt)"
