# Helpers for the in-guest tests of `make vm-test` (sourced by run.sh and
# by every test). The guest sees the host's root read-only: everything a
# test writes goes to /tmp, /run or /sys/fs/bpf (fresh in the guest).
set -o pipefail

PROJECT=${PROJECT:?}
BUILD=$PROJECT/build
TESTS=$BUILD/kernel/test
XDPBATCH=$PROJECT/.build/release/xdpbatch
BATCHCTL=$TESTS/batchctl
FRAMES="/usr/bin/python3 $PROJECT/kernel/tests/frames.py"
PINS=/sys/fs/bpf/vmtest
WORK=/tmp/vmtest
SAMPLES=$BUILD/samples

# The sample objects' program names.
declare -A PROGRAM=([xdp1]=xdp_prog1 [xdp_tx]=xdp_tx [xdp_classify]=xdp_classify_prog
	[xdp_redirect_map]=xdp_redirect_map_prog)

# fail MESSAGE: ends the test with a failure.
fail() {
	echo "FAIL: $*"
	exit 1
}

# check COMMAND...: runs it, fails the test with its output if it fails.
check() {
	local output
	if ! output=$("$@" 2>&1); then
		echo "$output" | tail -20
		fail "$*"
	fi
}

# expect_refusal PATTERN COMMAND...: COMMAND must fail with PATTERN in its output.
expect_refusal() {
	local pattern=$1 output
	shift
	if output=$("$@" 2>&1); then
		fail "accepted: $*"
	fi
	if ! grep -q -- "$pattern" <<<"$output"; then
		echo "$output" | tail -20
		fail "refused without '$pattern': $*"
	fi
	echo "  refused: $(grep -m1 -- "$pattern" <<<"$output")"
}

# pair NAME: a namespace NAME with veth NAME-in inside and NAME-out in
# the guest's own namespace, both up; the program under test goes on
# NAME-out, frames are sent from NAME-in. IPv6 is off on both, so that no
# router or multicast listener message joins the test's frames.
pair() {
	ip netns add "$1"
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip link add dev "$1-out" type veth peer name "$1-in" netns "$1"
	ip link set dev "$1-out" up
	ip -n "$1" link set dev "$1-in" up
	ip -n "$1" link set dev lo up
}

# forms SAMPLE: writes $WORK/SAMPLE-pp.o (per-packet, with the action
# counters) and $WORK/SAMPLE-batch.o (its batch form for this kernel).
forms() {
	check "$XDPBATCH" rewrite "$SAMPLES/$1.o" --form per-packet -o "$WORK/$1-pp.o"
	check "$XDPBATCH" rewrite "$WORK/$1-pp.o" --target kernel -o "$WORK/$1-batch.o"
}

# load OBJECT PROGRAM DIR [batchctl load options]: loads into fresh pins.
load() {
	local object=$1 program=$2 dir=$3
	shift 3
	mkdir -p "$dir"
	check "$BATCHCTL" load "$object" "$program" "$dir" "$@"
}

# counters DIR: the action counters pinned in DIR, as JSON.
counters() {
	bpftool -j map dump pinned "$1/map_xdp_stats_map" >"$WORK/dump.json" ||
		fail "cannot dump $1/map_xdp_stats_map"
	$FRAMES counters "$WORK/dump.json"
}

# predict SAMPLE PCAP: the engine's per-packet verdicts for PCAP, as JSON.
predict() {
	"$XDPBATCH" run "$SAMPLES/$1.o" --pcap "$2" --json
}

# runs PIN: the kernel's run count of the pinned program.
runs() {
	bpftool -j prog show pinned "$1" | /usr/bin/python3 -c \
		'import json, sys; print(json.load(sys.stdin).get("run_cnt", 0))'
}

# wait_drained IFACE: until the interface's receive ring stays empty (the
# peer's frames have all been through NAPI).
wait_drained() {
	local before after
	after=$(cat "/sys/class/net/$1/statistics/rx_packets")
	for _ in $(seq 50); do
		sleep 0.2
		before=$after
		after=$(cat "/sys/class/net/$1/statistics/rx_packets")
		[ "$before" = "$after" ] && return 0
	done
}

# start_sending COMMAND...: runs COMMAND again and again in the background
# until stop_sending, each run's count of frames sent (the first word it
# prints) appended to $WORK/sent. A sender that runs until $WORK/stop
# exists runs once.
start_sending() {
	: >"$WORK/sent"
	rm -f "$WORK/stop" "$WORK/send-error"
	(
		while [ ! -e "$WORK/stop" ]; do
			"$@" | cut -d' ' -f1 >>"$WORK/sent" ||
				{ echo "sending failed: $*" >"$WORK/send-error"; break; }
		done
	) &
	SENDER=$!
}

# stop_sending: stops the sender started by start_sending; fails the test
# if a send failed.
stop_sending() {
	touch "$WORK/stop"
	wait "$SENDER"
	[ ! -e "$WORK/send-error" ] || fail "$(cat "$WORK/send-error")"
}
