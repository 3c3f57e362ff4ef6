# A batch program runs only where a driver runs it: native mode on a
# device with NETDEV_XDP_ACT_BATCH (veth). Generic mode and a device
# without it (tun) refuse it, and so does BPF_LINK_UPDATE from a
# per-packet program there; BPF_PROG_TEST_RUN and a program array refuse
# it too.
source "$PROJECT/kernel/vm/guest/lib.sh"
forms xdp1
load "$WORK/xdp1-pp.o" xdp_prog1 "$PINS/pp"
load "$WORK/xdp1-batch.o" xdp_prog1 "$PINS/batch" --batch --maps-from "$PINS/pp"

ip tuntap add dev vmtun0 mode tap
ip link set dev vmtun0 up
expect_refusal "Operation not supported" "$BATCHCTL" attach "$PINS/batch" vmtun0
check "$BATCHCTL" attach "$PINS/pp" vmtun0
expect_refusal "Operation not supported" "$BATCHCTL" swap "$PINS/pp/link" "$PINS/batch/prog"
rm "$PINS/pp/link"
ip link del dev vmtun0

pair vg
expect_refusal "need native mode on a driver that runs them" \
	ip link set dev vg-out xdpgeneric pinned "$PINS/batch/prog"
check ip link set dev vg-out xdpdrv pinned "$PINS/batch/prog"
check ip link set dev vg-out xdpdrv off

$FRAMES write "$WORK/frames.pcap" 1
expect_refusal "Operation not supported" \
	bpftool prog run pinned "$PINS/batch/prog" data_in "$WORK/frames.pcap"
