#!/bin/bash
# The in-guest side of `make vm-test`: runs every tests/NN-*.sh in order,
# each in its own shell, and reports on the console, one line a test and
# a last line the host looks for:
#   xdpbatch-vm: result PASSED/FAILED tests N failed M
# Exit status: the number of failed tests (0: all passed).
here=$(cd "$(dirname "$0")" && pwd)
export PROJECT=$(cd "$here/../../.." && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8
source "$here/lib.sh"

mkdir -p "$PINS" "$WORK"
echo "xdpbatch-vm: kernel $(uname -r), $(nproc) CPUs"
sysctl -qw kernel.bpf_stats_enabled=1
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

failed=0
total=0
only=$(sed -n 's/.*xdpbatch.only=\([^ ]*\).*/\1/p' /proc/cmdline)
for test in "$here"/tests/[0-9]*.sh; do
	name=$(basename "$test" .sh)
	[ -n "$only" ] && ! [[ "$name" =~ $only ]] && continue
	total=$((total + 1))
	start=$(date +%s)
	echo "xdpbatch-vm: run $name"
	if bash "$test" 2>&1 | sed "s/^/  $name: /"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		echo "xdpbatch-vm: ok $name ($(($(date +%s) - start)) s)"
	else
		echo "xdpbatch-vm: FAIL $name ($(($(date +%s) - start)) s)"
		failed=$((failed + 1))
	fi
	# Whatever a test left behind goes, so that the next starts clean.
	for ns in $(ip netns list | cut -d' ' -f1); do ip netns delete "$ns"; done
	rm -rf "${PINS:?}"/* "$WORK"/* /run/xdpbatch /sys/fs/bpf/xdpbatch 2>/dev/null
done

[ "$failed" -eq 0 ] && result=PASSED || result=FAILED
echo "xdpbatch-vm: result $result tests $total failed $failed"
exit "$failed"
