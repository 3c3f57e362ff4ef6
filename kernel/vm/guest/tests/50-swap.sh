# 100 swaps between the per-packet and the batch form of xdp_classify by
# BPF_LINK_UPDATE, while frames arrive: the two forms share their maps,
# and the counters add up to exactly what was sent, per action as the
# engine predicts, with no frame lost or counted twice.
source "$PROJECT/kernel/vm/guest/lib.sh"
repeat=4
swaps=100
$FRAMES write "$WORK/frames.pcap" 64
pair vs
forms xdp_classify
predict xdp_classify "$WORK/frames.pcap" >"$WORK/expected.json" || fail "engine run"
load "$WORK/xdp_classify-pp.o" xdp_classify_prog "$PINS/pp"
load "$WORK/xdp_classify-batch.o" xdp_classify_prog "$PINS/batch" --batch --maps-from "$PINS/pp"
check "$BATCHCTL" attach "$PINS/pp" vs-out

start_sending ip netns exec vs "$BATCHCTL" send vs-in "$WORK/frames.pcap" "$repeat"
for i in $(seq "$swaps"); do
	[ $((i % 2)) -eq 1 ] && to=batch || to=pp
	"$BATCHCTL" swap "$PINS/pp/link" "$PINS/$to/prog" >"$WORK/swap.log" 2>&1 ||
		{ stop_sending; fail "swap $i: $(tail -3 "$WORK/swap.log")"; }
	sleep 0.05
done
stop_sending
wait_drained vs-out

sends=$(wc -l <"$WORK/sent")
sent=$(awk '{ total += $1 } END { print total }' "$WORK/sent")
counters "$PINS/pp" >"$WORK/actual.json"
counted=$(/usr/bin/python3 -c 'import json,sys; print(sum(a["packets"] for a in json.load(open(sys.argv[1])).values()))' "$WORK/actual.json")
pp_runs=$(runs "$PINS/pp/prog")
batch_runs=$(runs "$PINS/batch/prog")
echo "$swaps swaps during $sends sends: $sent frames sent, $counted counted; per-packet form ran $pp_runs times, batch form $batch_runs"
[ "$pp_runs" -gt 0 ] && [ "$batch_runs" -gt 0 ] || fail "one form never ran during the swaps"
[ "$counted" -eq "$sent" ] || fail "counted $counted of $sent frames"
$FRAMES compare "$WORK/expected.json" "$WORK/actual.json" $((sends * repeat)) ||
	fail "per-action counts differ from the engine's prediction"
echo "figure: swap swaps=$swaps frames=$sent counted=$counted pp_runs=$pp_runs batch_runs=$batch_runs"
