import BPF
import Foundation
import Kernel

extension InterfaceProgram {
  /// The kernel's translated (xlated) code through the project's
  /// disassembler, one line an instruction (`index: text`). Map
  /// references name the map (the kernel writes its id into the
  /// instruction), helper calls the kernel function they reach (from
  /// `/proc/kallsyms`). `nil` when the kernel withholds the code (it needs
  /// CAP_SYS_ADMIN).
  public func translatedListing() throws(InspectionError) -> [String]? {
    let bytes: [UInt8]
    do {
      bytes = try program.translatedCode()
    } catch {
      throw .kernel(error)
    }
    guard !bytes.isEmpty else { return nil }
    let instructions: [Instruction]
    do {
      instructions = try Instruction.decode(littleEndian: bytes)
    } catch {
      throw .translatedCode(error)
    }
    let names = Dictionary(
      (try? maps())?.map { (Int($0.info.id), $0.fullName) } ?? [],
      uniquingKeysWith: { a, _ in a })
    let functions = (try? program.functionNames()) ?? [:]
    let symbols = KernelSymbols.load()
    return Disassembler().lines(instructions).map { line in
      let instruction = instructions[line.index]
      var text = Self.translatedText(
        instructions, line.index, mapNames: names, functions: functions)
      if text == nil, instruction.isHelperCall,
        let name = symbols?.helperName(callImmediate: instruction.immediate)
      {
        text = "call \(name)"
      }
      let index = String(line.index)
      return String(repeating: " ", count: max(0, 5 - index.count)) + index + ": "
        + (text ?? line.text)
    }
  }

  /// What the kernel writes into translated code that an object's code
  /// does not hold, the way bpftool's xlated dumper prints it; nil for an
  /// instruction the object's disassembly prints as well.
  /// - map references: the kernel writes the map's id back as
  ///   BPF_PSEUDO_MAP_FD (1) or BPF_PSEUDO_MAP_VALUE (2);
  /// - bpf-to-bpf calls: the kernel keeps the relative target in `off`
  ///   (its JIT puts the callee's subprogram index in `imm`), so the
  ///   callee is `index + off + 1`, named by the BTF function records;
  /// - `mov64 r, r` with `off` -1 (BPF_ADDR_PERCPU): the address of this
  ///   CPU's copy of a per-CPU variable, emitted by inlined helpers.
  static func translatedText(
    _ instructions: [Instruction], _ index: Int, mapNames: [Int: String],
    functions: [Int: String]
  ) -> String? {
    let instruction = instructions[index]
    if instruction.isWideImmediateLoad, [1, 2].contains(instruction.src.rawValue) {
      let id = Int(UInt32(bitPattern: instruction.immediate))
      let offset =
        instruction.src.rawValue == 2 && index + 1 < instructions.count
        ? " + \(instructions[index + 1].immediate)" : ""
      return "r\(instruction.dst.rawValue) = map[id:\(id)]\(offset) ll  ; \(mapNames[id] ?? "?")"
    }
    if instruction.isLocalCall {
      let distance = Int(instruction.offset)
      let callee = functions[index + distance + 1].map { "#\($0)" } ?? ""
      return "call pc\(distance >= 0 ? "+" : "")\(distance)\(callee)"
    }
    if instruction.opcode == 0xbf, instruction.offset == -1 {
      return "r\(instruction.dst.rawValue) = &(void __percpu *)(r\(instruction.src.rawValue))"
    }
    return nil
  }

  /// The JIT-compiled code: hex rows, and a disassembly where a
  /// disassembler is installed. `nil` when the program is interpreted.
  public func machineCodeListing() throws(InspectionError) -> MachineCodeListing? {
    let bytes: [UInt8]
    do {
      bytes = try program.machineCode()
    } catch {
      throw .kernel(error)
    }
    guard !bytes.isEmpty else { return nil }
    return MachineCodeListing(bytes)
  }
}

/// JIT-compiled code for printing: 16 bytes a hex row (`offset: bytes`),
/// and the disassembly of an installed tool (binutils' `objdump`, else
/// LLVM's `llvm-mc`; `nil` when neither runs).
public struct MachineCodeListing: Sendable {
  /// The code in hex, 16 bytes a row, each after its offset.
  public var hexRows: [String]
  /// The x86-64 disassembly, when a tool for it is installed.
  public var disassembly: String?

  /// The listing of `code` (x86-64).
  public init(_ code: [UInt8]) {
    hexRows = stride(from: 0, to: code.count, by: 16).map { offset in
      let row = code[offset..<min(offset + 16, code.count)]
      return String(format: "%6x: ", offset)
        + row.map { String(format: "%02x", $0) }.joined(separator: " ")
    }
    disassembly = MachineCodeDisassembler.x86_64(code)
  }
}
