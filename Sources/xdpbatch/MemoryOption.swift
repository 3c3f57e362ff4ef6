import ArgumentParser
import Engine

/// `--memory SIZE`: the process-wide budget engine machines draw from (map
/// values, packet and stack frames). Default: half the physical memory.
struct MemoryOption: ParsableArguments {
  @Option(
    name: .customLong("memory"),
    help: ArgumentHelp(
      "Memory the engine may commit, in all (e.g. 512M, 4G; default half the physical memory).",
      valueName: "size"))
  var size: String?

  func validate() throws {
    if let size, Self.bytes(size) == nil {
      throw ValidationError("--memory must be a size such as 512M or 4G, not '\(size)'")
    }
  }

  /// Sets ``MemoryBudget/shared``'s limit when `--memory` was given.
  func apply() {
    if let size, let bytes = Self.bytes(size) { MemoryBudget.shared.limit = bytes }
  }

  /// `4096`, `64K`, `512M`, `4G` (binary units, optional `B`/`iB`).
  static func bytes(_ text: String) -> Int? {
    var digits = text.uppercased()
    for suffix in ["IB", "B"] where digits.hasSuffix(suffix) { digits.removeLast(suffix.count) }
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var scale = 1
    if let last = digits.last, let unit = units[last] {
      scale = unit
      digits.removeLast()
    }
    guard let value = Int(digits), value > 0 else { return nil }
    let product = value.multipliedReportingOverflow(by: scale)
    return product.overflow ? nil : product.partialValue
  }
}
