# The verifier accepts a hand-written batch loop and the rewriter's batch
# forms of the samples, and refuses each way of leaving the record being
# processed, with a message that says so.
source "$PROJECT/kernel/vm/guest/lib.sh"
objects=$TESTS/batch_programs.o

load "$objects" walk "$PINS/walk" --batch
echo "  accepted: hand-written batch loop (walk)"
expect_refusal "points to batch record 1, which may lie past the end of the batch" \
	"$BATCHCTL" load "$objects" past_end "$PINS/past_end" --batch
expect_refusal "writes to batch record 0 while record 1 is being processed" \
	"$BATCHCTL" load "$objects" other_record "$PINS/other_record" --batch
expect_refusal "invalid mem access 'scalar'" \
	"$BATCHCTL" load "$objects" stale_packet "$PINS/stale_packet" --batch
expect_refusal "calling kernel function bpf_xdp_batch_commit is not allowed" \
	"$BATCHCTL" load "$objects" commit_per_packet "$PINS/commit_per_packet"
expect_refusal "R2 !read_ok" "$BATCHCTL" load "$objects" walk "$PINS/walk_pp"

for sample in xdp1 xdp_tx xdp_classify xdp_redirect_map; do
	forms "$sample"
	program=${PROGRAM[$sample]}
	mkdir -p "$PINS/$sample-pp" "$PINS/$sample-batch"
	single=$("$BATCHCTL" load "$WORK/$sample-pp.o" "$program" "$PINS/$sample-pp" --stats 2>&1) ||
		{ echo "$single" | tail -15; fail "$sample: per-packet form refused"; }
	batch=$("$BATCHCTL" load "$WORK/$sample-batch.o" "$program" "$PINS/$sample-batch" --batch \
		--maps-from "$PINS/$sample-pp" --stats 2>&1) || { echo "$batch" | tail -15; fail "$sample: batch form refused"; }
	insns() { sed -n 's/^processed \([0-9]*\) insns.*/\1/p' <<<"$1"; }
	echo "  accepted: $sample batch form; verifier processed $(insns "$single") insns per packet, $(insns "$batch") in batch form"
	echo "figure: verifier $sample per-packet=$(insns "$single") batch=$(insns "$batch")"
done
