import BPF

/// Why the kernel's JIT code of a program cannot run in user space
/// (``KernelCodeCopy``), decided from the program's BPF instructions: its
/// code would reach into the kernel.
public enum KernelCodeRefusal: Error, Equatable, Sendable, CustomStringConvertible {
  /// The program calls a helper: the code calls into the kernel.
  case helperCall(String)
  /// The program calls a kernel function (kfunc).
  case kernelFunctionCall(Int32)
  /// The program tail-calls: the code jumps through a kernel map.
  case tailCall
  /// The program loads the address of a map (or another kernel object).
  case mapReference(instruction: Int)
  /// The program reads a context field the kernel rewrites into loads
  /// through kernel pointers (`ingress_ifindex`: `xdp->rxq->dev->ifindex`).
  case contextField(String)
  /// An instruction whose JIT code calls into the kernel (a legacy packet
  /// load, `may_goto`).
  case kernelInstruction(instruction: Int)
  /// The kernel did not JIT-compile the program, or hides its addresses.
  case notCompiled
  /// The code's calls and returns could not all be relinked.
  case unlinked(String)
  /// The kernel's BTF has no `struct xdp_buff` with the fields the fake
  /// context needs.
  case noContextLayout
  /// Mapping the copy failed.
  case memory(String)
  /// The kernel tracks call depth for retbleed (`retbleed=stuff`): every
  /// JIT-compiled program's prologue and calls update a per-CPU counter
  /// through `%gs`, which a user-space copy cannot reach.
  case callDepthTracking

  public var description: String {
    switch self {
    case .helperCall(let name): "it calls the helper \(name)"
    case .kernelFunctionCall(let id): "it calls a kernel function (kfunc, BTF id \(id))"
    case .tailCall: "it tail-calls (bpf_tail_call)"
    case .mapReference(let index): "instruction \(index) loads the address of a map"
    case .contextField(let name): "it reads the context field \(name), a kernel pointer chain"
    case .kernelInstruction(let index): "instruction \(index) compiles to a call into the kernel"
    case .notCompiled: "the kernel's JIT code or its addresses cannot be read"
    case .unlinked(let what): "its code could not be relinked: \(what)"
    case .noContextLayout: "the kernel's BTF has no struct xdp_buff with data, data_end, data_meta"
    case .memory(let what): "its copy could not be mapped: \(what)"
    case .callDepthTracking:
      "the kernel tracks call depth for retbleed (Mitigation: Stuffing): its code updates "
        + "per-CPU data through %gs"
    }
  }

  /// The first reason `instructions` cannot run as a user-space copy of
  /// their kernel code, or nil. Context reads are found by following
  /// where the context pointer may be, over the whole program at once (a
  /// register that holds it anywhere counts everywhere, a stack fill as a
  /// spill of it once one was spilled): the verifier allows only 32-bit
  /// loads from the unmoved pointer (`__is_valid_xdp_access`), so a
  /// 32-bit load at a field's offset from a register that may hold it is
  /// refused even when it is a packet load at that offset on every path.
  public static func first(in instructions: [Instruction]) -> KernelCodeRefusal? {
    // A tail call first (its map reference comes before it), then
    // helpers (their map arguments likewise), then the rest in order.
    var found: [KernelCodeRefusal] = []
    var index = 0
    while index < instructions.count {
      let instruction = instructions[index]
      defer { index += instruction.isWideImmediateLoad ? 2 : 1 }
      if instruction.isWideImmediateLoad, instruction.src.rawValue != 0 {
        found.append(.mapReference(instruction: index))
      } else if instruction.isHelperCall {
        let helper = HelperFunction(rawValue: instruction.immediate)
        found.append(
          helper == .tailCall ? .tailCall : .helperCall(helper.name ?? "#\(instruction.immediate)"))
      } else if instruction.isCall, !instruction.isLocalCall {
        found.append(.kernelFunctionCall(instruction.immediate))
      } else if let mode = instruction.accessMode, mode == .absolute || mode == .indirect {
        found.append(.kernelInstruction(instruction: index))
      } else if instruction.opcode == 0xe5 {  // may_goto
        found.append(.kernelInstruction(instruction: index))
      }
    }
    if found.contains(.tailCall) { return .tailCall }
    if let helper = found.first(where: { if case .helperCall = $0 { true } else { false } }) {
      return helper
    }
    return found.first ?? contextRead(in: instructions)
  }

  /// The context fields other than `data`, `data_end`, `data_meta`, by
  /// their offsets in `struct xdp_md`.
  static let kernelPointerFields: [Int16: String] = [
    12: "ingress_ifindex", 16: "rx_queue_index", 20: "egress_ifindex",
  ]

  private static func contextRead(in instructions: [Instruction]) -> KernelCodeRefusal? {
    var context: Set<UInt8> = [1]
    var spilled = false
    var changed = true
    while changed {
      changed = false
      for instruction in instructions {
        let dst = instruction.dst.rawValue
        let src = instruction.src.rawValue
        var gains = false
        switch instruction.instructionClass {
        case .alu64:
          gains =
            instruction.arithmeticOperation == .mov && instruction.operandSource == .register
            && context.contains(src)
        case .ldx:
          gains = spilled && instruction.accessSize == .doubleWord
        case .stx:
          if context.contains(src), instruction.accessSize == .doubleWord, !spilled {
            spilled = true
            changed = true
          }
        default: break
        }
        if gains, !context.contains(dst) {
          context.insert(dst)
          changed = true
        }
      }
    }
    for instruction in instructions
    where instruction.instructionClass == .ldx && instruction.accessSize == .word
      && context.contains(instruction.src.rawValue)
    {
      if let name = kernelPointerFields[instruction.offset] { return .contextField(name) }
    }
    return nil
  }
}

extension KernelCodeRefusal {
  /// Where the kernel states its retbleed mitigation.
  static let retbleedPath = "/sys/devices/system/cpu/vulnerabilities/retbleed"

  /// Whether the kernel's stated retbleed mitigation, `retbleed`, is call
  /// depth tracking, whose accounting the x86 JIT emits into every
  /// program's prologue and before its calls (`sarq $5, %gs:...`).
  static func tracksCallDepth(retbleed: String) -> Bool {
    retbleed.contains("Mitigation: Stuffing")
  }
}
