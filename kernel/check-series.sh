#!/bin/bash
# Checks that the patch series is bisectable: in a tree of its own
# (build/kernel/series), from the pinned tarball, applies the patches one
# by one with `patch -p1` and builds the kernel (with CONFIG_I40E=y, as the
# VM's configuration has it) after each, and runs the tree's
# scripts/checkpatch.pl on each. The first build is a clean one (10-20 min
# on 2 cores), the others rebuild what each patch touches.
#
#   kernel/check-series.sh
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
kernel_dir=$project/kernel
source "$kernel_dir/source.env"
out=$project/build/kernel/series
src=$out/src/$LINUX_DIRECTORY
obj=$out/obj

[ "$(sha256sum "$LINUX_TARBALL" | cut -d' ' -f1)" = "$LINUX_SHA256" ] ||
	{ echo "check-series: $LINUX_TARBALL is not the pinned tarball" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/src" "$obj"
tar -xJf "$LINUX_TARBALL" -C "$out/src"
make -s -C "$src" O="$obj" allnoconfig KCONFIG_ALLCONFIG="$kernel_dir/xdpbatch.config" >/dev/null
make -s -C "$src" O="$obj" olddefconfig >/dev/null
grep -qx 'CONFIG_I40E=y' "$obj/.config" || { echo "check-series: CONFIG_I40E is not y" >&2; exit 1; }

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
build "pristine"
while IFS= read -r patch_file; do
	echo "== $patch_file"
	patch -d "$src" -p1 --forward --batch --quiet <"$kernel_dir/patches/$patch_file"
	echo "  applies with patch -p1"
	"$src/scripts/checkpatch.pl" --strict --no-signoff --quiet \
		"$kernel_dir/patches/$patch_file" | grep -E '^(total|ERROR|WARNING|CHECK)' | sed 's/^/  checkpatch: /' || true
	build "$patch_file"
done <"$kernel_dir/patches/series"
echo "check-series: every patch applies and builds"
