import BPF

/// The kernel half of the software datapath: a small XDP program, built
/// with the instruction constructors, that hands each frame to the AF_XDP
/// socket of its receive queue, and falls back to the user's program in
/// the kernel when no socket is registered there.
///
///     r6 = r1
///     r2 = *(u32 *)(r1 + 16)          ; ctx->rx_queue_index
///     r1 = sockets ll                 ; XSKMAP
///     r3 = 0                          ; on a miss: return XDP_ABORTED (0)
///     call bpf_redirect_map
///     if r0 == XDP_REDIRECT goto out
///     r1 = r6
///     r2 = fallback ll                ; PROG_ARRAY, slot 0: the user's program
///     r3 = 0
///     call bpf_tail_call              ; does not return when the slot is set
///     r0 = XDP_ABORTED                ; the slot is empty: visible, never a silent pass
///   out:
///     exit
///
/// The socket of a queue leaves the XSKMAP when its process closes it or
/// dies, so a dead datapath means kernel per-packet mode by itself.
public enum RedirectProgram {
  /// The program's name in the kernel.
  public static let name = "xdpbatch_xsk"

  /// The sockets map: queue index -> AF_XDP socket.
  public static let socketsMap = MapDefinition(
    name: "xdpbatch_xsks", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 64)

  /// The fallback: slot 0 holds the user's per-packet program with its
  /// counting pass.
  public static let fallbackMap = MapDefinition(
    name: "xdpbatch_fallbk", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 1)

  /// `struct xdp_md`'s `rx_queue_index` offset in the kernel.
  static let receiveQueueOffset: Int16 = 16

  /// The program, referencing ``socketsMap`` as map 0 and ``fallbackMap`` as map 1.
  public static var program: Program {
    var instructions: [Instruction] = [
      .move(.r6, .r1),
      .load(.word, .r2, from: .r1, offset: receiveQueueOffset),
    ]
    instructions += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    instructions += [
      .move(.r3, immediate: Int32(XDPAction.aborted.rawValue)),
      .call(helper: HelperFunction.redirectMap.rawValue),
      .jump(.jeq, .r0, immediate: Int32(XDPAction.redirect.rawValue), offset: 6),
      .move(.r1, .r6),
    ]
    instructions += Instruction.loadImmediate64(.r2, 1, kind: .mapByIndex)
    instructions += [
      .move(.r3, immediate: 0),
      .call(helper: HelperFunction.tailCall.rawValue),
      .move(.r0, immediate: Int32(XDPAction.aborted.rawValue)),
      .exit,
    ]
    return Program(name: name, sectionName: "xdp", instructions: instructions)
  }
}
