#!/usr/bin/env python3
"""Writes the engine's conformance vectors in bpf_conformance's .data format.

Each vector is written as `-- raw` (one little-endian 64-bit slot per line, as
bpf_conformance's parser reads them), with a readable listing in comment
lines before the first directive. Expected results are derived here by hand
from RFC 9669's semantics (Python integer arithmetic), never from the engine.
Run from this folder: python3 generate.py
"""
M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def slot(op, dst=0, src=0, off=0, imm=0):
    return op | dst << 8 | src << 12 | (off & 0xFFFF) << 16 | (imm & M32) << 32


ALU = dict(add=0x00, sub=0x10, mul=0x20, div=0x30, sdiv=0x30, or_=0x40, and_=0x50, lsh=0x60,
           rsh=0x70, neg=0x80, mod=0x90, smod=0x90, xor=0xA0, mov=0xB0, arsh=0xC0)
JMP = dict(jeq=0x10, jgt=0x20, jge=0x30, jset=0x40, jne=0x50, jsgt=0x60, jsge=0x70,
           jlt=0xA0, jle=0xB0, jslt=0xC0, jsle=0xD0)


def k(name, dst, imm, wide=True):
    off = 1 if name in ("sdiv", "smod") else 0
    return [(f"{name.rstrip('_')}{'' if wide else '32'} r{dst}, {imm}",
             slot(ALU[name] | (0x07 if wide else 0x04), dst, 0, off, imm))]


def x(name, dst, src, wide=True, off=None):
    if off is None:
        off = 1 if name in ("sdiv", "smod") else 0
    return [(f"{name.rstrip('_')}{'' if wide else '32'} r{dst}, r{src}" + (f" (off {off})" if name == "mov" and off else ""),
             slot(ALU[name] | (0x0F if wide else 0x0C), dst, src, off))]


def neg(dst, wide=True):
    return [(f"neg{'' if wide else '32'} r{dst}", slot(0x87 if wide else 0x84, dst))]


def lddw(dst, value):
    value &= M64
    return [(f"lddw r{dst}, {value:#x}", slot(0x18, dst, imm=value & M32)), ("", slot(0, imm=value >> 32))]


def end(kind, dst, width):
    op = {"le": 0xD4, "be": 0xDC, "bswap": 0xD7}[kind]
    return [(f"{kind}{width} r{dst}", slot(op, dst, imm=width))]


def jk(name, dst, imm, off, wide=True):
    return [(f"{name}{'' if wide else '32'} r{dst}, {imm}, {off:+d}", slot(JMP[name] | (0x05 if wide else 0x06), dst, 0, off, imm))]


def jx(name, dst, src, off, wide=True):
    return [(f"{name}{'' if wide else '32'} r{dst}, r{src}, {off:+d}", slot(JMP[name] | (0x0D if wide else 0x0E), dst, src, off))]


def ja(off): return [(f"ja {off:+d}", slot(0x05, off=off))]
def gotol(imm): return [(f"gotol {imm:+d}", slot(0x06, imm=imm))]
def call(imm): return [(f"call {imm}", slot(0x85, imm=imm))]
def call_local(imm): return [(f"call local {imm:+d}", slot(0x85, 0, 1, imm=imm))]
def exit_(): return [("exit", slot(0x95))]


SIZE = {"b": 0x10, "h": 0x08, "w": 0x00, "dw": 0x18}


def ldx(size, dst, src, off): return [(f"ldx{size} r{dst}, [r{src}{off:+d}]", slot(0x61 | SIZE[size], dst, src, off))]
def ldxs(size, dst, src, off): return [(f"ldxs{size} r{dst}, [r{src}{off:+d}]", slot(0x81 | SIZE[size], dst, src, off))]
def st(size, dst, off, imm): return [(f"st{size} [r{dst}{off:+d}], {imm}", slot(0x62 | SIZE[size], dst, 0, off, imm))]
def stx(size, dst, off, src): return [(f"stx{size} [r{dst}{off:+d}], r{src}", slot(0x63 | SIZE[size], dst, src, off))]


ATOMIC = dict(add=0x00, or_=0x40, and_=0x50, xor=0xA0, fetch_add=0x01, fetch_or=0x41, fetch_and=0x51,
              fetch_xor=0xA1, xchg=0xE1, cmpxchg=0xF1)


def atomic(size, name, dst, off, src):
    return [(f"lock {name.rstrip('_')}{'64' if size == 'dw' else '32'} [r{dst}{off:+d}], r{src}",
             slot(0xC3 | (0x18 if size == "dw" else 0), dst, src, off, ATOMIC[name]))]


def ldabs(size, imm): return [(f"ldabs{size} {imm}", slot(0x20 | SIZE[size], imm=imm))]
def ldind(size, src, imm): return [(f"ldind{size} r{src}, {imm}", slot(0x40 | SIZE[size], 0, src, imm=imm))]
def mov(dst, imm): return k("mov", dst, imm)


def s64(v): return v - (1 << 64) if v >> 63 else v
def s32(v): v &= M32; return v - (1 << 32) if v >> 31 else v


vectors = {}


def vector(name, program, result, mem=None):
    vectors[name] = ([line for part in program for line in part], result & M64, mem)


def bswap(v, width): return int.from_bytes((v & ((1 << width) - 1)).to_bytes(width // 8, "little"), "big")


# ---- 64-bit arithmetic
vector("alu64-add", [mov(0, -1), k("add", 0, 2), mov(1, 0x7FFFFFFF), x("add", 0, 1), exit_()], 0x80000000)
vector("alu64-sub", [mov(0, 1), k("sub", 0, 3), mov(1, 0x10), x("sub", 0, 1), exit_()], -2 - 0x10)
vector("alu64-mul", [mov(0, 0x10000), k("mul", 0, 0x10000), mov(1, -2), x("mul", 0, 1), exit_()], (0x100000000 * (M64 - 1)))
vector("alu64-div", [lddw(0, M64), k("div", 0, 0x10), mov(1, 0x100), x("div", 0, 1), x("mov", 2, 0), k("div", 2, -1),
                     x("add", 0, 2), exit_()], (M64 // 0x10) // 0x100)
vector("alu64-div-by-zero", [mov(0, 7), k("div", 0, 0), mov(3, 9), mov(1, 0), x("div", 3, 1), x("add", 0, 3),
                             k("add", 0, 1), exit_()], 1)
vector("alu64-sdiv", [mov(0, -7), k("sdiv", 0, 2), mov(2, 100), x("sdiv", 2, 0), x("mov", 0, 2), exit_()], -33)
vector("alu64-sdiv-corner", [lddw(0, 1 << 63), mov(1, -1), x("sdiv", 0, 1), mov(2, 5), mov(3, 0), x("sdiv", 2, 3),
                             x("or_", 0, 2), k("sdiv", 2, 0), x("or_", 0, 2), exit_()], 1 << 63)
vector("alu64-mod", [mov(0, 17), k("mod", 0, 5), lddw(1, M64), mov(2, 10), x("mod", 1, 2), x("add", 0, 1), exit_()],
       2 + M64 % 10)
vector("alu64-mod-by-zero", [lddw(0, 0x123456789), mov(1, 0), x("mod", 0, 1), k("mod", 0, 0), exit_()], 0x123456789)
vector("alu64-smod", [mov(0, -7), k("smod", 0, 2), mov(1, 7), mov(2, -2), x("smod", 1, 2), k("lsh", 1, 4),
                      x("add", 0, 1), exit_()], -1 + 16)
vector("alu64-smod-corner", [lddw(0, 1 << 63), mov(1, -1), x("smod", 0, 1), mov(3, -9), mov(4, 0), x("smod", 3, 4),
                             k("smod", 3, 0), x("add", 0, 3), exit_()], -9)
vector("alu64-bit", [mov(0, 0xF0), k("or_", 0, 0x0F), mov(1, 0x3C), x("and_", 0, 1), k("xor", 0, -1), mov(1, 0xFF),
                     x("xor", 0, 1), x("or_", 0, 1), k("and_", 0, 0x7F0), exit_()], 0x7F0)
vector("alu64-shift", [mov(0, 1), k("lsh", 0, 63), k("rsh", 0, 3), mov(1, 68), x("rsh", 0, 1), x("lsh", 0, 1), exit_()],
       ((1 << 63) >> 3 >> 4) << 4)
vector("alu64-arsh", [lddw(0, 0xFFF0000000000000), k("arsh", 0, 4), mov(1, 0x44), x("arsh", 0, 1), exit_()],
       0xFFFFF00000000000)
vector("alu64-neg", [mov(0, 5), neg(0), exit_()], -5)
vector("alu64-mov", [mov(0, -1), x("mov", 1, 0), mov(0, 0), x("add", 0, 1), exit_()], -1)
vector("alu64-movsx", [mov(1, 0x80), x("mov", 0, 1, off=8), mov(2, 0x7FFF), x("mov", 3, 2, off=16),
                       lddw(4, 0x80000000), x("mov", 5, 4, off=32), x("xor", 0, 3), x("xor", 0, 5), exit_()],
       (-0x80) ^ 0x7FFF ^ (-0x80000000))

# ---- 32-bit arithmetic: operands are the low halves, results zero-extended
vector("alu32-add", [lddw(0, 0x1FFFFFFFF), k("add", 0, 1, False), lddw(1, 0xAAAAAAAA00000005), x("add", 0, 1, False),
                     exit_()], 5)
vector("alu32-sub", [mov(0, 0), k("sub", 0, 1, False), lddw(1, 0x100000002), x("sub", 0, 1, False), exit_()], 0xFFFFFFFD)
vector("alu32-mul", [mov(0, 0x10000), k("mul", 0, 0x10000, False), k("add", 0, 3, False), mov(1, -1),
                     x("mul", 0, 1, False), exit_()], (3 * M32) & M32)
vector("alu32-div", [mov(0, -1), k("div", 0, 0x10, False), lddw(1, 0x100000010), x("div", 0, 1, False), exit_()],
       0xFFFFFFFF // 0x10 // 0x10)
vector("alu32-div-mod-by-zero", [lddw(0, 0xFFFFFFFF00000007), mov(1, 0), x("mod", 0, 1, False), lddw(2, 0x1234),
                                 x("div", 2, 1, False), lddw(3, 0xFFFFFFFF00000009), k("mod", 3, 0, False),
                                 lddw(4, 0xFFFFFFFF00000004), k("div", 4, 0, False), x("add", 0, 2), x("add", 0, 3),
                                 x("add", 0, 4), exit_()], 7 + 0 + 9 + 0)
vector("alu32-sdiv", [k("mov", 0, -7, False), k("sdiv", 0, 2, False), mov(1, -1), lddw(2, 0x80000000),
                      x("sdiv", 2, 1, False), x("add", 0, 2), exit_()], (-3 & M32) + 0x80000000)
vector("alu32-smod", [k("mov", 0, -7, False), k("smod", 0, 3, False), lddw(1, 0x80000000), mov(2, -1),
                      x("smod", 1, 2, False), lddw(3, 0xFFFFFFFF80000005), mov(4, 0), x("smod", 3, 4, False),
                      x("add", 0, 1), x("add", 0, 3), exit_()], (-1 & M32) + 0 + 0x80000005)
vector("alu32-bit", [lddw(0, M64), k("and_", 0, 0xFF, False), k("or_", 0, 0x100, False), lddw(1, 0xF0000000000000F0),
                     x("xor", 0, 1, False), x("or_", 0, 1, False), x("and_", 0, 1, False), k("xor", 0, -1, False),
                     exit_()], (((0xFF | 0x100) ^ 0xF0 | 0xF0) & 0xF0) ^ M32)
vector("alu32-shift", [lddw(0, 0xFFFFFFFF00000001), k("lsh", 0, 31, False), k("rsh", 0, 4, False), mov(1, 33),
                       x("lsh", 0, 1, False), x("rsh", 0, 1, False), exit_()], ((0x80000000 >> 4) << 1 & M32) >> 1)
vector("alu32-arsh", [k("mov", 0, -0x10000000, False), k("arsh", 0, 4, False), mov(1, 36), x("arsh", 0, 1, False),
                      exit_()], (s32(0xF0000000) >> 8) & M32)
vector("alu32-neg", [lddw(0, 0x100000005), neg(0, False), exit_()], (-5) & M32)
vector("alu32-mov", [lddw(1, 0xDEADBEEFCAFEBABE), x("mov", 0, 1, False), k("mov", 2, -1, False), x("add", 0, 2), exit_()],
       0xCAFEBABE + 0xFFFFFFFF)
vector("alu32-movsx", [mov(1, 0x80), x("mov", 0, 1, False, off=8), lddw(2, 0x12348000), x("mov", 3, 2, False, off=16),
                       x("add", 0, 3), exit_()], 0xFFFFFF80 + 0xFFFF8000)

# ---- byte order
V = 0x1122334455667788
vector("end-le", [lddw(0, V), end("le", 0, 16), lddw(1, V), end("le", 1, 32), lddw(2, V), end("le", 2, 64),
                  x("add", 0, 1), x("add", 0, 2), exit_()], 0x7788 + 0x55667788 + V)
vector("end-be", [lddw(0, V), end("be", 0, 16), lddw(1, V), end("be", 1, 32), lddw(2, V), end("be", 2, 64),
                  x("xor", 0, 1), x("xor", 0, 2), exit_()], bswap(V, 16) ^ bswap(V, 32) ^ bswap(V, 64))
vector("bswap", [lddw(0, V), end("bswap", 0, 16), lddw(1, V), end("bswap", 1, 32), lddw(2, V), end("bswap", 2, 64),
                 x("add", 0, 1), x("add", 0, 2), exit_()], bswap(V, 16) + bswap(V, 32) + bswap(V, 64))

# ---- conditional jumps: (a, operand that takes the jump, operand that does not)
CASES64 = dict(jeq=(5, 5, 6), jne=(5, 6, 5), jgt=(-1, 5, -1), jge=(5, 5, 6), jlt=(5, -1, 5), jle=(5, -1, 4),
               jsgt=(-1, -2, 0), jsge=(-1, -1, 0), jslt=(-1, 0, -1), jsle=(-1, -1, -2), jset=(0x10, 0x30, 0x0F))
CASES32 = dict(jeq=(0x100000005, 5, 6), jne=(0x100000005, 6, 5), jgt=(0xFFFFFFFF00000001, 0, 2),
               jge=(0x100000005, 5, 6), jlt=(0x100000005, 6, 5), jle=(0x100000005, 5, 4),
               jsgt=(0xFFFFFFFF, -2, 0), jsge=(0xFFFFFFFF, -1, 0), jslt=(0xFFFFFFFF, 0, -1),
               jsle=(0xFFFFFFFF, -1, -2), jset=(0x100000010, 0x30, 0x10000000F))
for wide, cases in ((True, CASES64), (False, CASES32)):
    for name, (a, taken, not_taken) in cases.items():
        suffix = "" if wide else "32"
        # r0 |= 2 is skipped when the first jump is taken; r0 |= 1 runs when the second is not.
        vector(f"{name}{suffix}-imm", [mov(0, 0), lddw(1, a), jk(name, 1, taken, 1, wide), k("or_", 0, 2),
                                       jk(name, 1, not_taken & M32 if not wide else not_taken, 1, wide),
                                       k("or_", 0, 1), exit_()], 1)
        vector(f"{name}{suffix}-reg", [mov(0, 0), lddw(1, a), lddw(2, taken), lddw(3, not_taken),
                                       jx(name, 1, 2, 1, wide), k("or_", 0, 2), jx(name, 1, 3, 1, wide),
                                       k("or_", 0, 1), exit_()], 1)
vector("ja", [mov(0, 1), ja(1), mov(0, 2), exit_()], 1)
vector("ja-loop", [mov(0, 0), mov(1, 5), k("add", 0, 2), k("sub", 1, 1), jk("jne", 1, 0, -3), exit_()], 10)
vector("gotol", [mov(0, 1), gotol(2), mov(0, 2), exit_(), gotol(-3)], 2)

# ---- calls
vector("call-local", [mov(6, 7), mov(1, 3), call_local(2), x("add", 0, 6), exit_(), mov(6, 100), x("mov", 0, 1),
                      k("lsh", 0, 4), exit_()], 3 * 16 + 7)
vector("call-local-frames", [st("dw", 10, -8, 0x11), call_local(2), ldx("dw", 0, 10, -8), exit_(),
                             st("dw", 10, -8, 0x22), mov(0, 0), exit_()], 0x11)
vector("call-local-nested", [mov(1, 1), call_local(1), exit_(), x("mov", 0, 1), k("add", 1, 1),
                             jk("jge", 1, 5, 3), mov(6, 0), call_local(-5), x("add", 0, 1), exit_()],
       0)  # placeholder, replaced below
vector("call-helper-unwind", [mov(1, 42), call(5), exit_()], 42)
vector("exit-early", [mov(0, 3), exit_(), mov(0, 4), exit_()], 3)

# ---- memory
MEM = bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA])
vector("ldx", [ldx("b", 0, 1, 1), ldx("h", 2, 1, 2), ldx("w", 3, 1, 4), ldx("dw", 4, 1, 2), x("add", 0, 2),
               x("add", 0, 3), x("add", 0, 4), exit_()],
       MEM[1] + int.from_bytes(MEM[2:4], "little") + int.from_bytes(MEM[4:8], "little")
       + int.from_bytes(MEM[2:10], "little"), MEM)
SX = bytes([0x80, 0xFF, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80])
vector("ldxs", [ldxs("b", 0, 1, 0), ldxs("h", 2, 1, 2), ldxs("w", 3, 1, 4), x("xor", 0, 2), x("xor", 0, 3), exit_()],
       (-0x80) ^ (-0x8000) ^ (-0x80000000), SX)
vector("ldx-r2-length", [x("mov", 0, 2), exit_()], len(MEM), MEM)
vector("st", [st("dw", 10, -8, -2), st("w", 10, -8, 0x11223344), st("h", 10, -4, 0x5566), st("b", 10, -2, 0x77),
              ldx("dw", 0, 10, -8), exit_()], int.from_bytes(bytes([0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x77, 0xFF]), "little"))
vector("stx", [lddw(1, 0x0102030405060708), stx("dw", 10, -8, 1), mov(2, 0xAA), stx("b", 10, -8, 2), mov(3, 0xBBCC),
               stx("h", 10, -6, 3), mov(4, 0x11112222), stx("w", 10, -4, 4), ldx("dw", 0, 10, -8), exit_()],
       0x11112222BBCC07AA)
vector("stx-memory", [mov(2, 0x5A), stx("b", 1, 3, 2), ldx("w", 0, 1, 0), exit_()], 0x5A000000, bytes(4))


def atomics64():
    m = 10
    m += 5
    r2 = m; m += 3
    m |= 0x0F
    m &= 0x1E
    m ^= 0xFF
    r6 = m; m |= 0x100
    r7 = m; m &= 0x1F0
    r8 = m; m ^= 0x0F
    r9 = m; m = 0x55
    r0 = 0x55; m = 0x66  # cmpxchg succeeds, r0 = old 0x55
    r0b = m  # failing cmpxchg (r0 = 0 != 0x66) leaves memory, r0 = 0x66
    return r0b + r2 + r6 + r7 + r8 + r9 + m


vector("atomic64", [st("dw", 10, -8, 10), mov(1, 5), atomic("dw", "add", 10, -8, 1), mov(2, 3),
                    atomic("dw", "fetch_add", 10, -8, 2), mov(3, 0x0F), atomic("dw", "or_", 10, -8, 3),
                    mov(4, 0x1E), atomic("dw", "and_", 10, -8, 4), mov(5, 0xFF), atomic("dw", "xor", 10, -8, 5),
                    mov(6, 0x100), atomic("dw", "fetch_or", 10, -8, 6), mov(7, 0x1F0),
                    atomic("dw", "fetch_and", 10, -8, 7), mov(8, 0x0F), atomic("dw", "fetch_xor", 10, -8, 8),
                    mov(9, 0x55), atomic("dw", "xchg", 10, -8, 9), mov(0, 0x55), mov(1, 0x66),
                    atomic("dw", "cmpxchg", 10, -8, 1), mov(0, 0), mov(1, 0x77), atomic("dw", "cmpxchg", 10, -8, 1),
                    ldx("dw", 1, 10, -8), x("add", 0, 1), x("add", 0, 2), x("add", 0, 6), x("add", 0, 7),
                    x("add", 0, 8), x("add", 0, 9), exit_()], atomics64())


vector("atomic32", [lddw(1, 0xAAAAAAAA00000010), stx("dw", 10, -8, 1), lddw(1, 0xFFFFFFFF00000005),
                    atomic("w", "add", 10, -8, 1), lddw(2, 0x100000001), atomic("w", "fetch_add", 10, -8, 2),
                    lddw(3, 0x700000077), atomic("w", "xchg", 10, -8, 3), lddw(0, 0xFFFFFFFF00000077), mov(4, 0x88),
                    atomic("w", "cmpxchg", 10, -8, 4), mov(4, 0x100), atomic("w", "or_", 10, -8, 4), mov(4, 0x1F8),
                    atomic("w", "and_", 10, -8, 4), mov(4, 0x3), atomic("w", "xor", 10, -8, 4), lddw(5, 0x500001000),
                    atomic("w", "fetch_or", 10, -8, 5), lddw(6, 0x6000010FF), atomic("w", "fetch_and", 10, -8, 6),
                    lddw(7, 0x700000001), atomic("w", "fetch_xor", 10, -8, 7), ldx("dw", 1, 10, -8),
                    x("add", 0, 1), x("add", 0, 2), x("add", 0, 3), x("add", 0, 5), x("add", 0, 6), x("add", 0, 7),
                    exit_()], 0)
# atomic32 expected value: fetch forms load the old 32-bit value, zero-extended.
m = 0x10 + 5; r2 = m; m += 1; r3 = m; m = 0x77; r0 = 0x77; m = 0x88
m |= 0x100; m &= 0x1F8; m ^= 0x3; r5 = m; m |= 0x1000; r6 = m; m &= 0x10FF; r7 = m; m ^= 0x1
vectors["atomic32"] = (vectors["atomic32"][0], (r0 + r2 + r3 + r5 + r6 + r7 + ((0xAAAAAAAA << 32) | m)) & M64, None)

vector("lddw", [lddw(0, 0x123456789ABCDEF0), exit_()], 0x123456789ABCDEF0)
vector("lddw-high", [lddw(0, 0xFFFFFFFF00000000), k("rsh", 0, 32), exit_()], 0xFFFFFFFF)
PKT = bytes(range(10))
vector("ld-abs-ind", [ldabs("b", 3), x("mov", 9, 0), ldabs("h", 4), x("add", 9, 0), ldabs("w", 6), x("add", 9, 0),
                      mov(2, 2), ldind("w", 2, 1), x("add", 9, 0), ldind("h", 2, 6), x("add", 9, 0),
                      ldind("b", 2, 7), x("add", 9, 0), x("mov", 0, 9), exit_()],
       3 + 0x0405 + 0x06070809 + 0x03040506 + 0x0809 + 0x09, PKT)
vector("ld-abs-out-of-bounds", [mov(0, 5), ldabs("w", 8), mov(0, 7), exit_()], 0, PKT)

# call-local-nested: f(r1) recursion: main calls f(1); f returns r1 once r1 reaches 5.
# 0 mov r1,1 / 1 call +1 -> 3 / 2 exit / 3 mov r0,r1 / 4 add r1,1 / 5 jge r1,5,+3 -> 9 / 6 mov r6,0
# 7 call -5 -> 3 / 8 add r0,r1 / 9 exit.  Calls with r1 = 1,2,3,4 nest; r1 becomes 5 in the 4th.
# Innermost (entered with r1=4): r0 = 4, r1 = 5, returns 4. Each caller adds r1 (5, R1 is not restored): 4+5+5+5.
vectors["call-local-nested"] = (vectors["call-local-nested"][0], 4 + 5 * 3, None)

for name, (lines, result, mem) in sorted(vectors.items()):
    with open(f"{name}.data", "w") as out:
        out.write("# Generated by generate.py; expected values derived from RFC 9669.\n")
        for text, _ in lines:
            if text:
                out.write(f"#   {text}\n")
        out.write("-- raw\n")
        for _, value in lines:
            out.write(f"{value:#018x}\n")
        if mem is not None:
            out.write("-- mem\n" + " ".join(f"{b:02x}" for b in mem) + "\n")
        out.write(f"-- result\n{result:#x}\n")
print(len(vectors), "vectors")
