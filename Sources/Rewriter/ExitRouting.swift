import BPF

extension InstructionBuffer {
  /// Inserts `block` at `position` (references to `position` keep landing on
  /// the instruction that was there) and makes every exit in `exits`
  /// (original indices) continue into it: each becomes `ja block`, except an
  /// exit right before the block, which is removed so that control falls in.
  ///
  /// - Returns: where the block starts afterwards.
  mutating func routeExits(
    _ exits: [Int], into block: [Instruction], at position: Int
  ) throws(PatchError) -> Int {
    try insert(block, at: position, landing: .onOriginal)
    var start = position
    var jumps: [Int] = []
    // Exits go last to first: only the last can be removed (it sits right
    // before the block), which moves nothing before it, so the locations
    // found once hold for every exit.
    let original = (origins.compactMap { $0 }.max() ?? -1) + 1
    let locations = originalLocations(count: original)
    for exit in exits.sorted(by: >) {
      guard locations.indices.contains(exit), let location = locations[exit] else { continue }
      if location == start - 1 {
        try remove(at: location)
        start -= 1
      } else {
        try replace(at: location, with: [.jump(offset: 0)])
        jumps.append(location)
      }
    }
    for jump in jumps { try retarget(at: jump, to: start) }
    return start
  }

  /// For each original instruction, where it is now.
  func originalLocations(count original: Int) -> [Int?] {
    var locations = [Int?](repeating: nil, count: original)
    for (index, origin) in origins.enumerated() {
      if let origin, origin < original { locations[origin] = index }
    }
    return locations
  }

  /// `program` with this buffer's instructions, its main part `mainLength`
  /// slots long and its subprograms where their first instructions went.
  func relinked(_ program: Program, mainLength: Int) -> Program {
    let locations = originalLocations(count: program.instructions.count)
    var result = program
    result.instructions = instructions
    result.mainLength = mainLength
    result.subprograms = program.subprograms.map {
      var moved = $0
      moved.start =
        locations.indices.contains($0.start) ? locations[$0.start] ?? $0.start : $0.start
      return moved
    }
    return result
  }
}
