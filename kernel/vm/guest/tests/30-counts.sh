# The batch forms of the samples, attached in the kernel on a veth, count
# what the engine predicts per packet for the same frames, as the
# per-packet forms do; the frames arrive both as xdp_frames (sent by the
# peer's XDP_TX in BPF_PROG_TEST_RUN's live mode) and as sk_buffs (sent
# through an AF_PACKET socket). The batch forms run fewer times than
# there are frames sent live: the kernel really batched.
source "$PROJECT/kernel/vm/guest/lib.sh"
repeat=4
$FRAMES write "$WORK/frames.pcap" 64
pair vt

for sample in xdp1 xdp_tx xdp_classify xdp_redirect_map; do
	forms "$sample"
	predict "$sample" "$WORK/frames.pcap" >"$WORK/$sample-expected.json" || fail "$sample: engine run"
	for form in pp batch; do
		for sender in live packet; do
			dir=$PINS/$sample-$form-$sender
			if [ "$form" = pp ]; then
				load "$WORK/$sample-pp.o" "${PROGRAM[$sample]}" "$dir"
			else
				load "$WORK/$sample-batch.o" "${PROGRAM[$sample]}" "$dir" --batch
			fi
			check "$BATCHCTL" attach "$dir" vt-out
			if [ "$sender" = live ]; then
				sent=$(ip netns exec vt "$BATCHCTL" send vt-in "$WORK/frames.pcap" "$repeat" | cut -d' ' -f1) ||
					fail "$sample: sending failed: $sent"
			else
				sent=$(ip netns exec vt $FRAMES send vt-in "$WORK/frames.pcap" "$repeat") ||
					fail "$sample: sending failed: $sent"
			fi
			wait_drained vt-out
			counters "$dir" >"$WORK/actual.json"
			runs=$(runs "$dir/prog")
			echo "$sample $form ($sender frames): $sent sent, program ran $runs times"
			$FRAMES compare "$WORK/$sample-expected.json" "$WORK/actual.json" "$repeat" ||
				fail "$sample $form ($sender): counts differ from the engine's prediction"
			if [ "$form" = batch ] && [ "$sender" = live ] && [ "$runs" -ge "$sent" ]; then
				fail "$sample batch ($sender): $runs runs for $sent frames, nothing was batched"
			fi
			echo "figure: runs $sample $form $sender frames=$sent runs=$runs"
			rm "$dir/link"
		done
	done
done
