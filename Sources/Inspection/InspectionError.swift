import BPF
import Kernel

/// Why an inspection (maps, map entries, program listings, a capture)
/// failed. Nothing in the kernel was changed by a failed inspection.
public enum InspectionError: Error, Sendable, CustomStringConvertible {
  /// No interface by that name.
  case interfaceNotFound(String)
  /// The interface runs no XDP program.
  case noProgram(interface: String)
  /// The program has no map of that name; the names it has.
  case unknownMap(name: String, interface: String, available: [String])
  /// A key or value does not fit the map's type.
  case value(map: String, BTFValueError)
  /// The key is not in the map.
  case noEntry(map: String, key: String)
  /// The map's kind cannot do what was asked.
  case unsupported(map: String, reason: String)
  /// A capture cannot be made; the reason says why.
  case captureUnavailable(interface: String, reason: String)
  /// A capture needs the object file of the attached program, and nobody
  /// said which it is.
  case unknownObject(interface: String, program: String, programID: UInt32)
  /// The kernel's translated code of a program does not decode.
  case translatedCode(InstructionError)
  /// A kernel call failed.
  case kernel(SystemCallError)

  /// A message naming the interface, map or field.
  public var description: String {
    switch self {
    case .interfaceNotFound(let name): "no network interface named \"\(name)\""
    case .noProgram(let interface): "\(interface) has no XDP program attached"
    case .unknownMap(let name, let interface, let available):
      "the program on \(interface) has no map named \"\(name)\""
        + (available.isEmpty
          ? " (it has no maps)" : "; its maps: \(available.joined(separator: ", "))")
    case .value(let map, let error): "map \"\(map)\": \(error)"
    case .noEntry(let map, let key): "map \"\(map)\" has no entry with key \(key)"
    case .unsupported(let map, let reason): "map \"\(map)\": \(reason)"
    case .captureUnavailable(let interface, let reason): "cannot capture on \(interface): \(reason)"
    case .unknownObject(let interface, let program, let id):
      "cannot capture on \(interface): program \"\(program)\" (id \(id)) was not attached by xdpbatch"
    case .translatedCode(let error): "the kernel's translated code does not decode: \(error)"
    case .kernel(let error): error.description
    }
  }
}
