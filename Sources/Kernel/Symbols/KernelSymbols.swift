import Foundation

/// The kernel's function symbols (`/proc/kallsyms`), to name the helper
/// calls of a translated program: after verification the kernel writes a
/// call's immediate as the function's address minus `__bpf_call_base`,
/// so `bpftool prog dump xlated` shows `call dev_map_redirect`, not a
/// helper number. Addresses read as zero without CAP_SYSLOG; then there
/// are no names.
public struct KernelSymbols: Sendable {
  private let base: UInt64
  private let names: [UInt64: String]
  private let addresses: [String: UInt64]

  /// Reads `/proc/kallsyms` (text symbols only); `nil` when it is
  /// unreadable or hides addresses.
  public static func load(path: String = "/proc/kallsyms") -> KernelSymbols? {
    // procfs reports a size of 0: read to the end rather than by size.
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    var names: [UInt64: String] = [:]
    var addresses: [String: UInt64] = [:]
    var base: UInt64?
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", maxSplits: 3)
      guard fields.count >= 3, fields[1] == "T" || fields[1] == "t",
        let address = UInt64(fields[0], radix: 16), address != 0
      else { continue }
      let name = String(fields[2])
      if name == "__bpf_call_base" { base = address }
      if names[address] == nil { names[address] = name }
      if addresses[name] == nil { addresses[name] = address }
    }
    guard let base else { return nil }
    return KernelSymbols(base: base, names: names, addresses: addresses)
  }

  /// The address of the function `name` (the first listed, for a name
  /// given twice).
  public func address(of name: String) -> UInt64? {
    addresses[name]
  }

  /// The function a translated helper call reaches, from the call's immediate.
  public func helperName(callImmediate immediate: Int32) -> String? {
    names[UInt64(bitPattern: Int64(bitPattern: base) &+ Int64(immediate))]
  }
}
