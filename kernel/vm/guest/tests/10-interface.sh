# The kernel publishes the batch program interface in its BTF, and the
# tool's rewriter reads it from there.
source "$PROJECT/kernel/vm/guest/lib.sh"

btf=$(bpftool btf dump file /sys/kernel/btf/vmlinux) || fail "no kernel BTF"
md=$(grep -A8 "STRUCT 'xdp_md' size=" <<<"$btf")
buff=$(grep -A10 "STRUCT 'xdp_buff' size=" <<<"$btf")
grep -q "'act' type_id=[0-9]* bits_offset=192" <<<"$md" || fail "struct xdp_md has no act at byte 24: $md"
grep -q "'act'" <<<"$buff" || fail "struct xdp_buff has no act"
size=$(sed -n "s/.*STRUCT 'xdp_buff' size=\([0-9]*\).*/\1/p" <<<"$buff" | head -1)
grep -q "FUNC 'bpf_xdp_batch_commit'" <<<"$btf" || fail "no bpf_xdp_batch_commit in BTF"
echo "struct xdp_buff: $size bytes; struct xdp_md.act at 24; bpf_xdp_batch_commit present"

summary=$("$XDPBATCH" rewrite "$SAMPLES/xdp1.o" --target kernel) || fail "rewrite --target kernel: $summary"
grep -q "$size-byte records, act at 24" <<<"$summary" || fail "the rewriter did not read BTF: $summary"
echo "rewriter: $(grep 'for the kernel' <<<"$summary")"
