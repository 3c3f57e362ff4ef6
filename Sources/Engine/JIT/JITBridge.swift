import BPF

/// The C-convention entry points the JIT's code calls back into: helpers
/// (also `callx`), tail calls, atomics and legacy packet loads. Each takes
/// the ``JITContext`` block first, finds the machine there, runs the
/// engine's own Swift implementation, and turns a thrown error into the
/// status field (a Swift error cannot cross the C frames).
enum JITBridge {
  typealias Callback = @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64) -> UInt64

  static let helperEntry: Callback = { context, id, index in
    // The machine is borrowed, not retained: the run that entered the
    // code holds it (a helper call is on every packet's path).
    JITRuntime.withMachine(in: context) { machine in
      machine.jit.swiftCalls &+= 1
      do throws(ExecutionError) {
        let result = try machine.callHelper(
          Int32(truncatingIfNeeded: id), index: Int(index),
          executed: Int(truncatingIfNeeded: machine.jit[JITContext.executed]))
        machine.jit.refresh(machine.addressSpace)
        return result
      } catch {
        machine.jit.fail(error)
        return 0
      }
    }
  }

  static let tailCallEntry: Callback = { context, index, _ in
    let machine = JITRuntime.machine(in: context)
    machine.jit.swiftCalls &+= 1
    do throws(ExecutionError) {
      guard let target = try machine.tailCallTarget(index: Int(index)) else { return 0 }
      guard let code = machine.compiledCode(for: target) else {
        machine.jit.fail(
          .helperFault(
            index: Int(index), helper: HelperFunction.tailCall.rawValue,
            reason: "target \(target.name) could not be compiled"))
        return 0
      }
      // Later tail calls to it jump there without coming back here.
      machine.map(handle: machine.registers[2])?.programs.published(target)
      guard machine.jit[JITContext.depth] != 0 else { return UInt64(UInt(bitPattern: code.body)) }
      // Deeper than frame 0: code that counts the depth (``FrameDepths``).
      guard let deeper = machine.codeBelowFrameZero(for: target, code) else {
        machine.jit.fail(
          .helperFault(
            index: Int(index), helper: HelperFunction.tailCall.rawValue,
            reason: "target \(target.name) could not be compiled"))
        return 0
      }
      return UInt64(UInt(bitPattern: deeper.body))
    } catch {
      machine.jit.fail(error)
      return 0
    }
  }

  static let atomicEntry: Callback = { context, address, selector in
    let machine = JITRuntime.machine(in: context)
    machine.jit.swiftCalls &+= 1
    let operation = Operation(rawValue: UInt8(truncatingIfNeeded: selector))!
    let source = Int(selector >> 8)
    let pointer = UnsafeMutableRawPointer(bitPattern: UInt(address))!
    Arithmetic.atomic(operation, pointer, machine.registers, source)
    return 0
  }

  static let legacyLoadEntry: Callback = { context, selector, immediate in
    let machine = JITRuntime.machine(in: context)
    let slot = Slot(
      Operation(rawValue: UInt8(truncatingIfNeeded: selector))!,
      src: UInt8(truncatingIfNeeded: selector >> 8), immediate: Int64(bitPattern: immediate))
    guard
      let value = machine.legacyPacketLoad(
        slot, machine.registers, MemoryView(machine.addressSpace))
    else {
      machine.jit.set(.legacyLoadExit)
      return 0
    }
    return value
  }

  static let helper = address(helperEntry)
  static let tailCall = address(tailCallEntry)
  static let atomic = address(atomicEntry)
  static let legacyLoad = address(legacyLoadEntry)

  private static func address(_ callback: Callback) -> UInt64 {
    UInt64(UInt(bitPattern: unsafeBitCast(callback, to: UnsafeRawPointer.self)))
  }
}
