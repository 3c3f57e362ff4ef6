# The tool's own in-kernel path, with the release xdpbatch: list shows the
# kernel and veth batch-capable (from the kernel's BTF and the driver's
# XDP features); attach --form batch loads the rewriter's batch form into
# the kernel; swap switches per-packet <-> batch inside the kernel (a link
# update), under traffic, losing and double-counting nothing; stats and the
# exporter read its counters; the console's b swaps in the kernel without
# asking to move datapaths; a hand-written batch program that walks past
# the batch is refused with the verifier's words.
#
# Each xdpbatch swap takes about 10 s under emulation, so this test makes
# 25 by default (xdpbatch.tool_swaps=N on the kernel command line, from
# VM_TOOL_SWAPS, sets another count); 50-swap makes 100 by BPF_LINK_UPDATE.
source "$PROJECT/kernel/vm/guest/lib.sh"
swaps=$(sed -n 's/.*xdpbatch\.tool_swaps=\([0-9]*\).*/\1/p' /proc/cmdline)
swaps=${swaps:-25}
$FRAMES write "$WORK/frames.pcap" 64
pair vx
predict xdp_classify "$WORK/frames.pcap" >"$WORK/expected.json" || fail "engine run"

# record FIELD: a field of the tool's record for vx-out (compact JSON).
record() {
	grep -o "\"$1\":[^,}]*" /run/xdpbatch/vx-out.json | head -1 | cut -d: -f2 | tr -d '"'
}
# stats_counts: the tool's counters for vx-out, as frames.py counters writes them
stats_counts() {
	"$XDPBATCH" stats vx-out --json | /usr/bin/python3 -c \
		'import json,sys; a=json.load(sys.stdin)["actions"]; print(json.dumps({k: {"packets": v["packets"], "bytes": v["bytes"]} for k, v in a.items()}))'
}

listing=$("$XDPBATCH" list --all) || fail "list: $listing"
grep -q '^# kernel: runs batch XDP programs (BPF_F_XDP_BATCH, 64-byte records, act at 24)' <<<"$listing" ||
	fail "list does not show the kernel batch-capable: $(grep '^#' <<<"$listing")"
"$XDPBATCH" list --all --json | /usr/bin/python3 -c '
import json, sys
entries = {e["name"]: e for e in json.load(sys.stdin)}
assert entries["vx-out"]["batch"] is True and "batch" in entries["vx-out"]["xdp_features"], entries["vx-out"]
assert entries["lo"]["batch"] is False, entries["lo"]
' || fail "list --json: vx-out should be batch-capable, lo not"
echo "list: $(grep '^# kernel' <<<"$listing"); vx-out batch, lo not"

check "$XDPBATCH" attach vx-out "$SAMPLES/xdp_classify.o" --form batch
[ "$(record form)" = batch ] || fail "the record says form $(record form)"
[ "$(record datapath)" != software ] || fail "attach --form batch went to the software datapath"
id=$(record program_id)
sent=$(ip netns exec vx "$BATCHCTL" send vx-in "$WORK/frames.pcap" 4 | cut -d' ' -f1) || fail "sending"
wait_drained vx-out
runs=$(bpftool -j prog show id "$id" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["run_cnt"])')
stats_counts >"$WORK/actual.json" || fail "stats"
$FRAMES compare "$WORK/expected.json" "$WORK/actual.json" 4 || fail "stats differ from the engine's prediction"
[ "$runs" -lt "$sent" ] || fail "the batch form ran $runs times for $sent frames"
echo "attach --form batch: program $id in the kernel, $sent frames in $runs runs, stats as predicted"

# Swaps by the tool while frames arrive as sk_buffs (live-frame test runs
# would swap the XDP dispatcher on every run, slowing the swaps).
start_sending ip netns exec vx $FRAMES send-until vx-in "$WORK/frames.pcap" "$WORK/stop"
forms_seen=""
for i in $(seq "$swaps"); do
	out=$("$XDPBATCH" swap vx-out 2>&1) || { stop_sending; fail "swap $i: $out"; }
	[ "$(record datapath)" != software ] || { stop_sending; fail "swap $i left the kernel"; }
	forms_seen="$forms_seen $(record form)"
	[ $((i % 10)) -eq 0 ] && echo "  $i swaps ($(date +%T))"
done
stop_sending
wait_drained vx-out
total=$(($(awk '{ t += $1 } END { print t }' "$WORK/sent") + sent))
stats_counts >"$WORK/actual.json" || fail "stats"
counted=$(/usr/bin/python3 -c 'import json,sys; print(sum(a["packets"] for a in json.load(open(sys.argv[1])).values()))' "$WORK/actual.json")
echo "$swaps swaps by xdpbatch swap under traffic: $total frames sent, $counted counted; ends in $(record form) form"
[ "$counted" -eq "$total" ] || fail "counted $counted of $total frames"
$FRAMES compare "$WORK/expected.json" "$WORK/actual.json" $((total / 64)) ||
	fail "per-action counts after the swaps differ from the engine's prediction"
grep -q 'per-packet' <<<"$forms_seen" && grep -q 'batch' <<<"$forms_seen" || fail "forms seen:$forms_seen"
echo "figure: tool-swap swaps=$swaps frames=$total counted=$counted"

# the exporter serves the same counters
"$XDPBATCH" exporter --listen 127.0.0.1:18064 >"$WORK/exporter.log" 2>&1 &
exporter=$!
metrics=
for _ in $(seq 60); do
	metrics=$(/usr/bin/python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:18064/metrics", timeout=5).read().decode())' 2>/dev/null) && break
	sleep 0.5
done
kill "$exporter"
wait "$exporter" 2>/dev/null
[ -n "$metrics" ] || fail "the exporter did not answer: $(tail -3 "$WORK/exporter.log")"
printf '%s\n' "$metrics" >"$WORK/metrics.txt"
/usr/bin/python3 - "$WORK/actual.json" "$WORK/metrics.txt" <<'PY' || fail "the exporter's counters differ from stats"
import json, re, sys
stats = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
assert re.search(r'^xdpbatch_info\{[^}]*batch_capable="true"', text, re.M), "no batch_capable=\"true\""
for action, value in stats.items():
    pattern = r'^xdpbatch_packets_total\{(?=[^}]*interface="vx-out")(?=[^}]*action="%s")[^}]*\} (\S+)' % action
    match = re.search(pattern, text, re.M)
    assert match and float(match.group(1)) == value["packets"], (action, match and match.group(1), value)
PY
echo "exporter: batch_capable=\"true\", xdpbatch_packets_total as stats reads it"

# the console's b, in a terminal (tmux): no question, the form flips, the
# program stays in the kernel
before=$(record form)
tmux new-session -d -s vmconsole -x 160 -y 48 "$XDPBATCH console --interface vx-out" ||
	fail "tmux: cannot start the console"
pane=
for _ in $(seq 60); do
	pane=$(tmux capture-pane -p -t vmconsole 2>/dev/null)
	grep -q "$before · kernel" <<<"$pane" && break
	sleep 0.5
done
grep -q "$before · kernel" <<<"$pane" || fail "the console shows no $before program in the kernel: $(head -5 <<<"$pane")"
tmux send-keys -t vmconsole b
for _ in $(seq 60); do
	[ "$(record form)" != "$before" ] && break
	sleep 0.5
done
sleep 1
pane=$(tmux capture-pane -p -t vmconsole)
tmux send-keys -t vmconsole q
sleep 1
tmux kill-session -t vmconsole 2>/dev/null
after=$(record form)
if grep -q 'y to confirm' <<<"$pane"; then
	fail "b asked: $(grep 'y to confirm' <<<"$pane")"
fi
[ "$before" != "$after" ] || fail "b did not swap: form $after; pane: $(tail -3 <<<"$pane")"
[ "$(record datapath)" != software ] || fail "b moved the program to the software datapath"
grep -q "$after · kernel" <<<"$pane" || fail "the console does not show $after in the kernel after b"
echo "console b: $before -> $after in the kernel, without a question; pane: $(grep -o "$after · kernel [a-z]*" <<<"$pane" | head -1)"

# a hand-written batch program that walks past the batch
out=$("$XDPBATCH" attach vx-out "$TESTS/batch_walks.o" --program past_end --form batch 2>&1) &&
	fail "attach accepted past_end"
grep -q 'which may lie past the end of the batch' <<<"$out" || fail "attach refused past_end without the verifier's reason: $out"
echo "attach past_end: $(grep -m1 'past the end' <<<"$out" | sed 's/^ *//')"
[ "$(record form)" = "$after" ] || fail "the refused attach changed the record"
check "$XDPBATCH" detach vx-out
