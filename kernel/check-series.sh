#!/bin/bash
# Checks that the patch series is bisectable: in a tree of its own
# (build/kernel/series), from the pinned tarball, applies the patches one
# by one with `patch -p1` and builds the kernel (with CONFIG_I40E=y, as the
# VM's configuration has it) after each, and runs the tree's
# scripts/checkpatch.pl on each. The first build is a clean one (10-20 min
# on 2 cores), the others rebuild what each patch touches.
#
#   kernel/check-series.sh [--resume]
#
# --resume continues a run that was cut off, in the tree it left: steps
# recorded in build/kernel/series/progress as done (a patch applied, a
# build finished) are not repeated.
set -euo pipefail
resume=false
case "${1:-}" in
--resume) resume=true ;;
"") ;;
*) echo "usage: kernel/check-series.sh [--resume]" >&2; exit 2 ;;
esac
project=$(cd "$(dirname "$0")/.." && pwd)
kernel_dir=$project/kernel
source "$kernel_dir/source.env"
out=$project/build/kernel/series
src=$out/src/$LINUX_DIRECTORY
obj=$out/obj

[ "$(sha256sum "$LINUX_TARBALL" | cut -d' ' -f1)" = "$LINUX_SHA256" ] ||
	{ echo "check-series: $LINUX_TARBALL is not the pinned tarball" >&2; exit 1; }
progress=$out/progress
if $resume && [ -f "$progress" ]; then
	echo "== resuming: $(wc -l <"$progress") steps done before ($progress)"
else
	rm -rf "$out"
	mkdir -p "$out/src" "$obj"
	tar -xJf "$LINUX_TARBALL" -C "$out/src"
	make -s -C "$src" O="$obj" allnoconfig KCONFIG_ALLCONFIG="$kernel_dir/xdpbatch.config" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	: >"$progress"
fi
grep -qx 'CONFIG_I40E=y' "$obj/.config" || { echo "check-series: CONFIG_I40E is not y" >&2; exit 1; }
# done STEP: whether STEP is recorded as done; record STEP: records it.
done_before() { grep -qxF "$1" "$progress"; }
record() { echo "$1" >>"$progress"; }

build() {
	local start=$(date +%s)
	if ! nice -n 10 make -C "$src" O="$obj" -j"${JOBS:-$(nproc)}" bzImage >"$out/build.log" 2>&1; then
		grep -E 'error|Error' "$out/build.log" | head -20
		echo "check-series: $1: the build fails" >&2
		exit 1
	fi
	echo "  $1: builds ($(($(date +%s) - start)) s, $(grep -c ' warning: ' "$out/build.log" || true) compiler warnings)"
}

echo "== pristine $LINUX_PACKAGE $LINUX_VERSION"
if done_before "built pristine"; then echo "  pristine: built before"; else
	build "pristine"
	record "built pristine"
fi
while IFS= read -r patch_file; do
	echo "== $patch_file"
	if done_before "applied $patch_file"; then
		echo "  applied with patch -p1 before"
	else
		patch -d "$src" -p1 --forward --batch --quiet <"$kernel_dir/patches/$patch_file"
		record "applied $patch_file"
		echo "  applies with patch -p1"
	fi
	if ! done_before "checked $patch_file"; then
		"$src/scripts/checkpatch.pl" --strict --no-signoff --quiet \
			"$kernel_dir/patches/$patch_file" | grep -E '^(total|ERROR|WARNING|CHECK)' | sed 's/^/  checkpatch: /' || true
		record "checked $patch_file"
	fi
	if done_before "built $patch_file"; then echo "  $patch_file: built before"; else
		build "$patch_file"
		record "built $patch_file"
	fi
done <"$kernel_dir/patches/series"
echo "check-series: every patch applies and builds"
