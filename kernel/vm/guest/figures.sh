#!/bin/bash
# The in-guest side of `kernel/vm-test.sh --figures`: what each form of
# the samples costs in the patched kernel, on a veth, for the same frames.
#
# The host boots the guest with qemu's -icount shift=0: the guest's clock
# advances one nanosecond per instruction the guest executes, so every
# "emulated ns" here is a count of guest instructions, not a time. Caches,
# branch prediction and retpolines cost nothing under emulation, and the
# batch form's gain on hardware (the talk's +20 % for xdp1) comes mostly
# from those: these figures show what batching changes in instructions and
# calls only.
#
# One line a measurement on the console:
#   xdpbatch-figure {"sample":..., "form":..., "frames":..., ...}
here=$(cd "$(dirname "$0")" && pwd)
export PROJECT=$(cd "$here/../../.." && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8
source "$here/lib.sh"
mkdir -p "$PINS" "$WORK"
sysctl -qw kernel.bpf_stats_enabled=1
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
repeat=${FIGURES_REPEAT:-64}

# perf in the guest counts instructions only where the CPU exposes a PMU;
# qemu's software emulation does not.
perf_events=$(perf stat -x, -e instructions true 2>&1 >/dev/null | head -1)
echo "xdpbatch-vm: perf stat -e instructions: ${perf_events:-no output}"

$FRAMES write "$WORK/frames.pcap" 64
pair vf
status=0
for sample in xdp1 xdp_tx xdp_classify xdp_redirect_map; do
	forms "$sample" || { status=1; continue; }
	for form in pp batch; do
		dir=$PINS/$sample-$form
		if [ "$form" = pp ]; then
			load "$WORK/$sample-pp.o" "${PROGRAM[$sample]}" "$dir"
		else
			load "$WORK/$sample-batch.o" "${PROGRAM[$sample]}" "$dir" --batch
		fi
		"$BATCHCTL" attach "$dir" vf-out || { status=1; continue; }
		# one warm-up pass, then the measured one
		ip netns exec vf "$BATCHCTL" send vf-in "$WORK/frames.pcap" 8 >/dev/null
		wait_drained vf-out
		stats_before=$(bpftool -j prog show pinned "$dir/prog")
		sending=$(ip netns exec vf "$BATCHCTL" send vf-in "$WORK/frames.pcap" "$repeat") ||
			{ status=1; continue; }
		read -r sent elapsed <<<"$sending"
		wait_drained vf-out
		stats_after=$(bpftool -j prog show pinned "$dir/prog")
		/usr/bin/python3 - "$sample" "$form" "$sent" "$elapsed" \
			"$stats_before" "$stats_after" <<'EOF' || status=1
import json, sys
sample, form, sent, elapsed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
before, after = json.loads(sys.argv[5]), json.loads(sys.argv[6])
runs = after.get("run_cnt", 0) - before.get("run_cnt", 0)
program_ns = after.get("run_time_ns", 0) - before.get("run_time_ns", 0)
print("xdpbatch-figure " + json.dumps({
    "sample": sample, "form": form, "frames": sent, "runs": runs,
    "frames_per_run": round(sent / runs, 2) if runs else None,
    "program_emulated_ns_per_frame": round(program_ns / sent, 1),
    "test_run_emulated_ns_per_frame": round(elapsed / sent, 1),
}, sort_keys=True))
EOF
		rm "$dir/link"
		wait_drained vf-out
	done
done
echo "xdpbatch-vm: result $([ $status -eq 0 ] && echo PASSED || echo FAILED) figures"
exit $status
