import BPF
import Glibc
import Kernel

/// Counts the kernel datapath's failed redirects on one interface, by
/// reason, from what the kernel reports of them: two raw tracepoint
/// programs, pinned with their map in the interface's directory.
///
/// - `xdp:xdp_redirect_err` (`xdp_do_redirect` refused the frame: the
///   target is down, cannot take XDP frames, is too small, ...): one
///   frame with the error the kernel gives;
/// - `xdp:xdp_devmap_xmit` (a DEVMAP's bulk queue flushed to the target's
///   `ndo_xdp_xmit`): its `drops` frames, with its error, or `dropped`
///   when the driver dropped them without one. A DEVMAP redirect to a
///   target that cannot receive passes `xdp_do_redirect` and fails here.
///
/// Each program counts only the events whose source interface (`dev`,
/// `from_dev`: the first argument) is this interface, reading its
/// `ifindex` at the offset the kernel's BTF gives. A redirect to a
/// DEVMAP key with no entry (its target deleted) is no redirect at all:
/// `bpf_redirect_map` returns the flags' action, which the action
/// counters count. The map is a hash of the kernel's error (as a signed
/// 32-bit number, 0 for a silent drop) to frames.
public struct RedirectErrorTracer: Sendable {
  /// The tracer's map.
  public let map: KernelMap

  /// The map: error -> frames.
  public static let mapDefinition = MapDefinition(
    name: "xdpbatch_redire", type: .hash, keySize: 4, valueSize: 8, maxEntries: 64)

  /// The tracepoints, with the argument numbers of the count (nil: one
  /// frame) and of the error, in the order of ``Kernel/PinDirectory/tracerLinkPaths``.
  static let tracepoints: [(name: String, count: Int16?, error: Int16)] = [
    ("xdp_redirect_err", nil, 3), ("xdp_devmap_xmit", 3, 4),
  ]

  /// Why the kernel datapath's failed redirects are not counted on
  /// `interface`, or nil when its tracer runs.
  public static func unavailable(interface: String) -> String? {
    let pins = PinDirectory(interface: interface)
    for path in [pins.redirectErrorsPath] + pins.tracerLinkPaths where !PinDirectory.exists(path) {
      return
        "not counted: the tracer of xdp:xdp_redirect_err and xdp:xdp_devmap_xmit is not installed (the kernel refused it, or an older xdpbatch attached the program)"
    }
    return nil
  }

  /// The failed redirects counted on `interface` since its attach; nil
  /// when its tracer is not there.
  public static func read(interface: String) -> RedirectErrors? {
    let pins = PinDirectory(interface: interface)
    guard unavailable(interface: interface) == nil,
      let map = try? KernelMap.open(pinnedAt: pins.redirectErrorsPath),
      let entries = try? map.entries()
    else { return nil }
    var errors = RedirectErrors()
    for (key, values) in entries {
      guard key.count == 4, let value = values.first, value.count == 8 else { continue }
      let error = key.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
      let count = value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
      errors.add(count, reason: RedirectErrors.reason(errno: error))
    }
    return errors
  }

  /// Installs the tracer on `interface` unless it is there: the map, then
  /// both programs, each attached and pinned. On failure nothing of this
  /// call stays and the error says what the kernel refused.
  public static func install(interface: String, index: UInt32) throws(SystemCallError) {
    let pins = PinDirectory(interface: interface)
    if unavailable(interface: interface) == nil { return }
    remove(pins)
    guard let offset = KernelStructLayout.offset(of: "ifindex", in: "net_device") else {
      throw SystemCallError(
        "find net_device's ifindex in the kernel's BTF", errno: .operationNotSupported)
    }
    var succeeded = false
    defer { if !succeeded { remove(pins) } }
    let map = try KernelMap.create(mapDefinition)
    try map.pin(at: pins.redirectErrorsPath)
    for (tracepoint, path) in zip(tracepoints, pins.tracerLinkPaths) {
      let program = Self.program(
        tracepoint: tracepoint.name, interfaceIndex: index, ifindexOffset: Int16(offset),
        countArgument: tracepoint.count, errorArgument: tracepoint.error)
      let loaded: LoadedProgram
      do {
        loaded = try ProgramLoader(
          maps: [mapDefinition], reusing: [0: map], type: .rawTracepoint
        ).load(program).program
      } catch {
        throw SystemCallError("load the tracer of xdp:\(tracepoint.name): \(error)", errno: .invalid)
      }
      try RawTracepointLink.attach(loaded, to: tracepoint.name).pin(at: path)
    }
    succeeded = true
  }

  /// Removes the tracer's pins (its programs detach with their links).
  static func remove(_ pins: PinDirectory) {
    for path in pins.tracerLinkPaths + [pins.redirectErrorsPath] { unlink(path) }
  }

  /// The program for one tracepoint: its context is the tracepoint's
  /// arguments, one `u64` each, the source `struct net_device *` first.
  ///
  ///     r6 = r1
  ///     r3 = *(u64 *)(r6 + 0)            ; the source net_device
  ///     r3 += IFINDEX_OFFSET
  ///     r1 = r10 ; r1 += -8 ; r2 = 4
  ///     call bpf_probe_read_kernel        ; its ifindex at fp-8
  ///     if r0 != 0 goto out
  ///     r1 = *(u32 *)(r10 - 8)
  ///     if r1 != IFINDEX goto out
  ///     r8 = 1 | w8 = args[count] ; if w8 == 0 goto out
  ///     r7 = args[error] ; *(u32 *)(r10 - 16) = r7
  ///     r0 = lookup(map, fp-16) ; if r0 == 0 goto insert
  ///     lock *(u64 *)(r0 + 0) += r8 ; goto out
  ///   insert:
  ///     *(u64 *)(r10 - 24) = r8
  ///     if update(map, fp-16, fp-24, BPF_NOEXIST) == 0 goto out
  ///     r0 = lookup(map, fp-16) ; if r0 == 0 goto out ; lock add     ; lost a race
  ///   out:
  ///     r0 = 0 ; exit
  static func program(
    tracepoint: String, interfaceIndex: UInt32, ifindexOffset: Int16, countArgument: Int16?,
    errorArgument: Int16
  ) -> Program {
    var code: [Instruction] = []
    var exits: [Int] = []  // jumps to `out`, patched at the end
    func jumpToOut(_ instruction: Instruction) {
      exits.append(code.count)
      code.append(instruction)
    }
    let atomicAdd = Instruction(
      opcode: Opcode.memory(.stx, .atomic, .doubleWord), dst: .r0, src: .r8,
      immediate: AtomicOperation.add.rawValue)
    func lookup() {
      code += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
      code += [.move(.r2, .r10), .add(.r2, immediate: -16)]
      code.append(.call(helper: HelperFunction.mapLookupElement.rawValue))
    }
    code += [
      .move(.r6, .r1),
      .load(.doubleWord, .r3, from: .r6, offset: 0),
      .add(.r3, immediate: Int32(ifindexOffset)),
      .move(.r1, .r10), .add(.r1, immediate: -8),
      .move(.r2, immediate: 4),
      .call(helper: probeReadKernel),
    ]
    jumpToOut(.jump(.jne, .r0, immediate: 0, offset: 0))
    code.append(.load(.word, .r1, from: .r10, offset: -8))
    jumpToOut(.jump(.jne, .r1, immediate: Int32(bitPattern: interfaceIndex), offset: 0))
    if let countArgument {
      code.append(.load(.word, .r8, from: .r6, offset: countArgument * 8))
      jumpToOut(.jump(.jsle, .r8, immediate: 0, offset: 0, wide: false))
    } else {
      code.append(.move(.r8, immediate: 1))
    }
    code += [
      .load(.doubleWord, .r7, from: .r6, offset: errorArgument * 8),
      .store(.word, .r7, to: .r10, offset: -16),
    ]
    lookup()
    code.append(.jump(.jeq, .r0, immediate: 0, offset: 2))
    code.append(atomicAdd)
    jumpToOut(.jump(offset: 0))
    // insert:
    code.append(.store(.doubleWord, .r8, to: .r10, offset: -24))
    code += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    code += [
      .move(.r2, .r10), .add(.r2, immediate: -16),
      .move(.r3, .r10), .add(.r3, immediate: -24),
      .move(.r4, immediate: 1),  // BPF_NOEXIST
      .call(helper: HelperFunction.mapUpdateElement.rawValue),
    ]
    jumpToOut(.jump(.jeq, .r0, immediate: 0, offset: 0))
    lookup()
    jumpToOut(.jump(.jeq, .r0, immediate: 0, offset: 0))
    code.append(atomicAdd)
    let out = code.count
    code += [.move(.r0, immediate: 0), .exit]
    for index in exits { code[index].offset = Int16(out - index - 1) }
    return Program(
      name: "xdpbatch_" + (tracepoint == "xdp_devmap_xmit" ? "devmap" : "redir_e"),
      sectionName: "raw_tracepoint/" + tracepoint, instructions: code)
  }

  /// `bpf_probe_read_kernel`.
  static let probeReadKernel: Int32 = 113
}
