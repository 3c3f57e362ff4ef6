# Every record of a batch goes to its own redirect target: xdp_redirect_map
# forwards by the low bit of the destination MAC through a DEVMAP to two
# veths, and the sender alternates that bit frame by frame, so that the
# records of one call ask for different targets. Each target receives
# half of the frames, in either form; the batch form ran fewer times than
# there were frames.
source "$PROJECT/kernel/vm/guest/lib.sh"
repeat=16
$FRAMES write "$WORK/frames.pcap" 64
pair vr
for port in 0 1; do
	ip link add dev "t$port-out" type veth peer name "t$port-in"
	ip link set dev "t$port-out" up
	ip link set dev "t$port-in" up
done
forms xdp_redirect_map
forms xdp1

for form in pp batch; do
	dir=$PINS/redirect-$form
	if [ "$form" = pp ]; then
		load "$WORK/xdp_redirect_map-pp.o" xdp_redirect_map_prog "$dir"
	else
		load "$WORK/xdp_redirect_map-batch.o" xdp_redirect_map_prog "$dir" --batch
	fi
	for port in 0 1; do
		ifindex=$(cat "/sys/class/net/t$port-out/ifindex")
		check bpftool map update pinned "$dir/map_tx_port" key "$port" 0 0 0 \
			value $((ifindex & 255)) $((ifindex >> 8 & 255)) 0 0
		# the target's peer counts what arrives (xdp1 drops and counts)
		load "$WORK/xdp1-pp.o" xdp_prog1 "$PINS/t$port-$form"
		check "$BATCHCTL" attach "$PINS/t$port-$form" "t$port-in"
	done
	check "$BATCHCTL" attach "$dir" vr-out
	sent=$(ip netns exec vr "$BATCHCTL" send vr-in "$WORK/frames.pcap" "$repeat" --alternate | cut -d' ' -f1) ||
		fail "sending failed: $sent"
	wait_drained vr-out
	wait_drained t0-in
	wait_drained t1-in
	redirected=$(counters "$dir" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["redirect"]["packets"])')
	runs=$(runs "$dir/prog")
	for port in 0 1; do
		arrived[$port]=$(counters "$PINS/t$port-$form" |
			/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["drop"]["packets"])')
	done
	echo "$form: $sent sent, $redirected redirected in $runs runs; port 0 got ${arrived[0]}, port 1 got ${arrived[1]}"
	[ "$redirected" -eq "$sent" ] || fail "$form: $redirected of $sent frames redirected"
	[ "${arrived[0]}" -eq $((sent / 2)) ] && [ "${arrived[1]}" -eq $((sent / 2)) ] ||
		fail "$form: the targets got ${arrived[0]} and ${arrived[1]}, not $((sent / 2)) each"
	if [ "$form" = batch ] && [ "$runs" -ge "$sent" ]; then
		fail "batch: $runs runs for $sent frames, nothing was batched"
	fi
	echo "figure: redirect $form frames=$sent runs=$runs port0=${arrived[0]} port1=${arrived[1]}"
	rm "$dir/link" "$PINS/t0-$form/link" "$PINS/t1-$form/link"
done
