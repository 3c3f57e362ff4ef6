#!/usr/bin/python3
"""Test frames and counters for xdpbatch's VM tests.

  frames.py write OUT.pcap COUNT
      COUNT frames, classic pcap, in a fixed order that gives each of the
      samples' verdicts: xdp_classify's five (a truncated IPv4 header aborts,
      UDP to port 9 drops, UDP to port 7 is sent back, IPv6 TCP is
      redirected, the rest passes) and both ports of xdp_redirect_map (the
      low bit of the destination MAC). Every frame is at least an Ethernet
      header long, so that a veth can carry it.
  frames.py send IFACE PCAP TIMES
      send each frame of PCAP TIMES times out of IFACE through an AF_PACKET
      socket (on a veth, the peer receives them as sk_buffs); prints the count
  frames.py send-until IFACE PCAP STOPFILE
      send PCAP's frames out of IFACE again and again, a pause of 20 ms
      after each round (so that the peer's NAPI keeps up and no frame is
      dropped for a full ring), until STOPFILE exists; prints the count
  frames.py counters DUMP.json
      the action counters of an xdp_stats_map dump (`bpftool -j map dump`),
      summed over CPUs, as {"pass": {"packets": P, "bytes": B}, ...}
  frames.py compare EXPECTED.json ACTUAL.json [TIMES]
      exit 1 unless ACTUAL's packets equal EXPECTED's "actions" packets
      times TIMES for every action; prints both
"""
import json
import struct
import sys

ACTIONS = ["aborted", "drop", "pass", "tx", "redirect"]


def ethernet(index, ethertype):
    dest = bytes([0x02, 0, 0, 0, 0, index & 0xFF])  # low bit: the port
    source = bytes([0x02, 0, 0, 0, 1, 0])
    return dest + source + struct.pack("!H", ethertype)


def ipv4_udp(port, payload):
    length = 20 + 8 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 0, 0, 64, 17, 0,
                         bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
    return header + struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload


def ipv6(next_header, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), next_header, 64,
                       bytes.fromhex("20010db8" + "0" * 23 + "1"),
                       bytes.fromhex("20010db8" + "0" * 23 + "2")) + payload


def frame(index):
    payload = bytes((index * 7 + i) & 0xFF for i in range(index % 37))
    kind = index % 8
    if kind == 0:  # truncated IPv4 header: aborted
        return ethernet(index, 0x0800) + bytes(6)
    if kind == 1:  # UDP discard: drop
        return ethernet(index, 0x0800) + ipv4_udp(9, payload)
    if kind == 2:  # UDP echo: tx
        return ethernet(index, 0x0800) + ipv4_udp(7, payload)
    if kind == 3:  # IPv6 TCP: redirect
        return ethernet(index, 0x86DD) + ipv6(6, bytes(20) + payload)
    if kind == 4:  # IPv6 UDP: pass
        return ethernet(index, 0x86DD) + ipv6(17, bytes(8) + payload)
    if kind == 5:  # ARP: pass
        return ethernet(index, 0x0806) + bytes(28)
    return ethernet(index, 0x0800) + ipv4_udp(53 + kind, payload)  # pass


def write(path, count):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for index in range(count):
            data = frame(index)
            out.write(struct.pack("<IIII", index, 0, len(data), len(data)))
            out.write(data)


def read(path):
    frames = []
    with open(path, "rb") as source:
        source.read(24)
        while header := source.read(16):
            length = struct.unpack("<IIII", header)[2]
            frames.append(source.read(length))
    return frames


def send(interface, path, times):
    import socket
    frames = read(path)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sender:
        sender.bind((interface, 0))
        for _ in range(times):
            for data in frames:
                sender.send(data)
    print(len(frames) * times)


def send_until(interface, path, stop):
    import os
    import socket
    import time
    frames = read(path)
    sent = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sender:
        sender.bind((interface, 0))
        while not os.path.exists(stop):
            for data in frames:
                sender.send(data)
            sent += len(frames)
            time.sleep(0.02)
    print(sent)


def counters(path):
    with open(path) as dump:
        entries = json.load(dump)
    totals = {name: {"packets": 0, "bytes": 0} for name in ACTIONS}
    for entry in entries:
        key = int.from_bytes(bytes(int(b, 16) for b in entry["key"]), "little")
        if key >= len(ACTIONS):
            continue
        for cpu in entry["values"]:
            value = bytes(int(b, 16) for b in cpu["value"])
            packets, octets = struct.unpack("<QQ", value[:16])
            totals[ACTIONS[key]]["packets"] += packets
            totals[ACTIONS[key]]["bytes"] += octets
    print(json.dumps(totals, sort_keys=True))


def compare(expected_path, actual_path, times):
    with open(expected_path) as source:
        expected = json.load(source)["actions"]
    with open(actual_path) as source:
        actual = json.load(source)
    wrong = [name for name in ACTIONS
             if actual[name]["packets"] != expected[name]["packets"] * times]
    for name in ACTIONS:
        print(f"  {name:9} expected {expected[name]['packets'] * times:8} "
              f"counted {actual[name]['packets']:8}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "write" and len(sys.argv) == 4:
        write(sys.argv[2], int(sys.argv[3]))
    elif command == "send" and len(sys.argv) == 5:
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "send-until" and len(sys.argv) == 5:
        send_until(sys.argv[2], sys.argv[3], sys.argv[4])
    elif command == "counters" and len(sys.argv) == 3:
        counters(sys.argv[2])
    elif command == "compare" and len(sys.argv) in (4, 5):
        compare(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 1)
    else:
        sys.exit(__doc__)
