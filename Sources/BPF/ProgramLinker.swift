/// Links one program the way libbpf's `bpf_object__reloc_code` does: the
/// program's own body, then every function it reaches, each appended once
/// in the order the calls are met (depth first), with every bpf-to-bpf call
/// and subprogram address rewritten to the new relative distance.
///
/// Map relocations are applied to each copied body: `ld_imm64` gets source
/// ``ImmediateLoadKind/mapByIndex`` or ``ImmediateLoadKind/mapValueByIndex``
/// and the map's index, and the value offset in its second slot.
struct ProgramLinker {
  let file: String
  /// Executable sections by ELF index.
  let sections: [Int: ExecutableSection]
  /// Byte offsets of CO-RE relocations, by section name.
  let coreRelocations: [String: [UInt64]]

  private struct Placement: Hashable {
    var section: Int
    var start: Int
  }

  private struct Frame {
    var function: ExecutableSection.Function
    var section: ExecutableSection
    var base: Int
    var next = 0
  }

  func link(_ main: ExecutableSection.Function, in section: ExecutableSection)
    throws(BPFObjectError) -> Program
  {
    var instructions = body(of: main, in: section)
    var placed: [Placement: Int] = [Placement(section: section.index, start: main.start): 0]
    var subprograms: [Program.Subprogram] = []
    var coreCount = coreRelocationCount(main, in: section)
    var stack = [Frame(function: main, section: section, base: 0)]

    while var frame = stack.popLast() {
      while frame.next < frame.function.length {
        let position = frame.next
        let index = frame.base + position
        let slot = frame.function.start + position
        let instruction = instructions[index]
        frame.next += instruction.isWideImmediateLoad ? 2 : 1
        let isCodeAddress = instruction.immediateLoadKind == .codeAddress
        guard instruction.isLocalCall || isCodeAddress else { continue }

        func failure(_ reason: String) -> BPFObjectError {
          .unresolvedCall(
            file: file, program: main.name, function: frame.function.name,
            instruction: position, reason: reason)
        }
        let (targetSection, targetSlot) = try target(
          of: instruction, at: slot, in: frame.section, failure: failure)
        guard let callee = targetSection.functions.first(where: { $0.start == targetSlot }) else {
          throw failure(
            "target instruction \(targetSlot) of section '\(targetSection.name)' is not the start of a function"
          )
        }
        let key = Placement(section: targetSection.index, start: callee.start)
        var appended: Frame?
        if placed[key] == nil {
          placed[key] = instructions.count
          subprograms.append(
            Program.Subprogram(name: callee.name, start: instructions.count, length: callee.length))
          appended = Frame(function: callee, section: targetSection, base: instructions.count)
          instructions += body(of: callee, in: targetSection)
          coreCount += coreRelocationCount(callee, in: targetSection)
        }
        guard let start = placed[key], let distance = Int32(exactly: start - index - 1) else {
          throw failure("call distance does not fit in 32 bits")
        }
        instructions[index].immediate = distance
        if let appended {
          stack.append(frame)
          stack.append(appended)
          break
        }
      }
    }
    guard coreCount == 0 else {
      throw .coreRelocationsUnsupported(file: file, program: main.name, count: coreCount)
    }
    return Program(
      name: main.name, sectionName: section.name, instructions: instructions,
      mainLength: main.length, subprograms: subprograms)
  }

  /// The section and instruction a call or subprogram address refers to:
  /// from its relocation if it has one, else relative to itself in its own
  /// section (a call already resolved by the compiler).
  private func target(
    of instruction: Instruction, at slot: Int, in section: ExecutableSection,
    failure: (String) -> BPFObjectError
  ) throws(BPFObjectError) -> (ExecutableSection, Int) {
    if let relocation = section.relocation(at: slot) {
      guard case .code(let sectionIndex, let target) = relocation.target,
        let targetSection = sections[sectionIndex]
      else { throw failure("its relocation against '\(relocation.symbol)' does not name code") }
      return (targetSection, target)
    }
    return (section, slot + Int(instruction.immediate) + 1)
  }

  /// A function's instructions with its map relocations applied.
  private func body(of function: ExecutableSection.Function, in section: ExecutableSection)
    -> [Instruction]
  {
    var body = Array(section.instructions[function.start..<(function.start + function.length)])
    for relocation in section.relocations
    where relocation.instruction >= function.start
      && relocation.instruction < function.start + function.length
    {
      let index = relocation.instruction - function.start
      guard body[index].isWideImmediateLoad, index + 1 < body.count else { continue }
      switch relocation.target {
      case .map(let map):
        body[index].src = Register(rawValue: ImmediateLoadKind.mapByIndex.rawValue)
        body[index].immediate = Int32(clamping: map)
        body[index + 1].immediate = 0
      case .mapValue(let map, let offset):
        body[index].src = Register(rawValue: ImmediateLoadKind.mapValueByIndex.rawValue)
        body[index].immediate = Int32(clamping: map)
        body[index + 1].immediate = offset
      case .code:
        body[index].src = Register(rawValue: ImmediateLoadKind.codeAddress.rawValue)
      }
    }
    return body
  }

  private func coreRelocationCount(
    _ function: ExecutableSection.Function, in section: ExecutableSection
  ) -> Int {
    let range = UInt64(function.start * 8)..<UInt64((function.start + function.length) * 8)
    return coreRelocations[section.name, default: []].filter(range.contains).count
  }
}
