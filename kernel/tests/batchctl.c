// SPDX-License-Identifier: GPL-2.0
/*
 * batchctl: the few BPF operations xdpbatch's VM tests need that bpftool
 * and ip cannot do on a kernel with the batch patches: load a program
 * with BPF_F_XDP_BATCH, attach it through a BPF link in native mode, swap
 * a link's program (BPF_LINK_UPDATE), and send frames out of an interface
 * with BPF_PROG_TEST_RUN's live-frame mode.
 *
 *   batchctl load OBJ PROG DIR [--batch] [--maps-from DIR] [--stats]
 *       load PROG of OBJ (as a batch program with --batch), pin it at
 *       DIR/prog and each of its maps at DIR/map_NAME; --maps-from reuses
 *       the maps pinned in another DIR (two forms of one program share
 *       their maps, counters included); --stats prints the verifier's
 *       statistics (instructions processed, states)
 *   batchctl attach DIR IFACE     attach DIR/prog, pin the link at DIR/link
 *   batchctl swap LINK PROG       replace the program of pinned link LINK
 *   batchctl send IFACE PCAP N [--alternate]
 *                                 send every frame of classic pcap PCAP
 *                                 N times out of IFACE (XDP_TX, live frames);
 *                                 --alternate flips the low bit of the
 *                                 destination MAC on every other frame sent,
 *                                 so that one poll's frames differ; prints
 *                                 the frames sent and the nanoseconds the
 *                                 test runs took (the kernel's duration,
 *                                 receive side included when NAPI runs at
 *                                 the end of each run's bottom half)
 *
 * Errors go to stderr with libbpf's messages (the verifier's log included)
 * and exit status 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#ifndef BPF_F_XDP_BATCH
#define BPF_F_XDP_BATCH (1U << 8)
#endif

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "batchctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int load(int argc, char **argv)
{
	const char *path = argv[0], *name = argv[1], *dir = argv[2];
	const char *shared = NULL;
	struct bpf_program *prog, *target = NULL;
	struct bpf_object *obj;
	struct bpf_map *map;
	static char log[1 << 26];
	char pin[4096];
	bool batch = false, stats = false;
	int i, err, level = 4;

	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--batch"))
			batch = true;
		else if (!strcmp(argv[i], "--stats"))
			stats = true;
		else if (!strcmp(argv[i], "--log"))
			stats = true, level = 2;
		else if (!strcmp(argv[i], "--maps-from") && i + 1 < argc)
			shared = argv[++i];
		else
			return fail("load: unknown argument %s", argv[i]);
	}

	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return fail("%s: cannot open: %s", path, strerror(errno));
	bpf_object__for_each_program(prog, obj) {
		if (!strcmp(bpf_program__name(prog), name))
			target = prog;
		else
			bpf_program__set_autoload(prog, false);
	}
	if (!target)
		return fail("%s: no program %s", path, name);
	bpf_program__set_type(target, BPF_PROG_TYPE_XDP);
	bpf_program__set_expected_attach_type(target, BPF_XDP);
	if (batch)
		bpf_program__set_flags(target, bpf_program__flags(target) | BPF_F_XDP_BATCH);
	if (stats) {
		bpf_program__set_log_buf(target, log, sizeof(log));
		bpf_program__set_log_level(target, level); /* 4: BPF_LOG_STATS */
	}

	if (shared) {
		bpf_object__for_each_map(map, obj) {
			int fd;

			snprintf(pin, sizeof(pin), "%s/map_%s", shared, bpf_map__name(map));
			fd = bpf_obj_get(pin);
			if (fd < 0)
				continue;
			err = bpf_map__reuse_fd(map, fd);
			close(fd);
			if (err)
				return fail("%s: cannot reuse %s: %s", path, pin, strerror(-err));
		}
	}

	err = bpf_object__load(obj);
	if (err)
		return fail("%s: program %s: load failed: %s", path, name, strerror(-err));
	if (stats)
		fputs(log, stdout);

	snprintf(pin, sizeof(pin), "%s/prog", dir);
	err = bpf_program__pin(target, pin);
	if (err)
		return fail("cannot pin %s: %s", pin, strerror(-err));
	bpf_object__for_each_map(map, obj) {
		snprintf(pin, sizeof(pin), "%s/map_%s", dir, bpf_map__name(map));
		err = bpf_map__pin(map, pin);
		if (err)
			return fail("cannot pin %s: %s", pin, strerror(-err));
	}
	bpf_object__close(obj);
	return 0;
}

static int attach(const char *dir, const char *iface)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
	unsigned int ifindex = if_nametoindex(iface);
	char pin[4096];
	int prog, link;

	if (!ifindex)
		return fail("no interface %s", iface);
	snprintf(pin, sizeof(pin), "%s/prog", dir);
	prog = bpf_obj_get(pin);
	if (prog < 0)
		return fail("%s: %s", pin, strerror(errno));
	link = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
	if (link < 0)
		return fail("attach %s to %s: %s", pin, iface, strerror(errno));
	snprintf(pin, sizeof(pin), "%s/link", dir);
	if (bpf_obj_pin(link, pin))
		return fail("cannot pin %s: %s", pin, strerror(errno));
	return 0;
}

static int swap(const char *link_pin, const char *prog_pin)
{
	int link = bpf_obj_get(link_pin), prog = bpf_obj_get(prog_pin);

	if (link < 0 || prog < 0)
		return fail("%s, %s: %s", link_pin, prog_pin, strerror(errno));
	if (bpf_link_update(link, prog, NULL))
		return fail("swap %s to %s: %s", link_pin, prog_pin, strerror(errno));
	return 0;
}

/* Sends each frame of a classic pcap file `repeat` times: an XDP program
 * that returns XDP_TX runs over it in live-frame mode, and the kernel
 * transmits it from the interface as if it had been received there.
 */
#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static int send_frames(const char *iface, const char *path, unsigned int repeat,
		       bool alternate)
{
	struct bpf_insn tx[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	/* a counter in map fd MAP decides the low bit of each frame's
	 * destination MAC: 0, 1, 0, 1, ... whatever page the frame is in
	 */
	struct bpf_insn alternating[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_LD | BPF_IMM | BPF_DW, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, 0), /* 4: map */
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 12, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_W, BPF_REG_0, BPF_REG_1, 0, BPF_ADD | BPF_FETCH),
		INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6, 0, 0),
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_6, 4, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, 6),
		INSN(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, 4, 0),
		INSN(BPF_LDX | BPF_MEM | BPF_B, BPF_REG_5, BPF_REG_2, 5, 0),
		INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_5, 0, 0, 0xfe),
		INSN(BPF_ALU64 | BPF_OR | BPF_X, BPF_REG_5, BPF_REG_1, 0, 0),
		INSN(BPF_STX | BPF_MEM | BPF_B, BPF_REG_2, BPF_REG_5, 5, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	unsigned int ifindex = if_nametoindex(iface);
	unsigned char frame[65536];
	uint32_t header[6], record[4];
	unsigned long long nanoseconds = 0;
	unsigned long sent = 0;
	FILE *file;
	int prog;

	if (!ifindex)
		return fail("no interface %s", iface);
	file = fopen(path, "rb");
	if (!file)
		return fail("%s: %s", path, strerror(errno));
	if (fread(header, sizeof(header), 1, file) != 1 || header[0] != 0xa1b2c3d4)
		return fail("%s: not a little-endian classic pcap file", path);
	if (alternate) {
		int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "batchctl_flip", 4, 4, 1, NULL);

		if (map < 0)
			return fail("cannot create the counter map: %s", strerror(errno));
		alternating[4].imm = map;
		prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "batchctl_alt", "GPL", alternating,
				     sizeof(alternating) / sizeof(alternating[0]), NULL);
	} else {
		prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "batchctl_tx", "GPL", tx, 2, NULL);
	}
	if (prog < 0)
		return fail("cannot load the sending program: %s", strerror(errno));

	while (fread(record, sizeof(record), 1, file) == 1) {
		struct xdp_md ctx = { .data_end = record[2], .ingress_ifindex = ifindex };
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			    .data_in = frame, .data_size_in = record[2],
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = repeat);

		if (record[2] > sizeof(frame) || fread(frame, record[2], 1, file) != 1)
			return fail("%s: truncated record after %lu frames", path, sent);
		if (bpf_prog_test_run_opts(prog, &opts))
			return fail("send on %s: %s", iface, strerror(errno));
		nanoseconds += (unsigned long long)opts.duration * repeat;
		sent++;
	}
	fclose(file);
	printf("%lu %llu\n", sent * repeat, nanoseconds);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(print_libbpf);
	if (argc >= 5 && !strcmp(argv[1], "load"))
		return load(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "attach"))
		return attach(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "swap"))
		return swap(argv[2], argv[3]);
	if ((argc == 5 || (argc == 6 && !strcmp(argv[5], "--alternate"))) &&
	    !strcmp(argv[1], "send"))
		return send_frames(argv[2], argv[3], strtoul(argv[4], NULL, 10), argc == 6);
	return fail("usage: batchctl load OBJ PROG DIR [--batch] [--maps-from DIR] [--stats] | "
		    "attach DIR IFACE | swap LINK PROG | send IFACE PCAP N [--alternate]");
}
