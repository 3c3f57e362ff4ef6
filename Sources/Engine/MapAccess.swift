import BPF

/// Why a user-side map operation failed: the kernel's error number, as
/// `bpf(2)` would report it.
public struct MapOperationError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The map's name.
  public var map: String
  /// `lookup`, `update` or `delete`.
  public var operation: String
  /// The positive errno (`ENOENT` 2, `E2BIG` 7, `EEXIST` 17, `EINVAL` 22).
  public var code: Int32

  /// Describes a failed operation.
  public init(map: String, operation: String, code: Int32) {
    self.map = map
    self.operation = operation
    self.code = code
  }

  /// `map rxcnt: update failed with errno 7`.
  public var description: String { "map \(map): \(operation) failed with errno \(code)" }
}

extension BPFMap {
  /// The value for `key` on `processor`, or nil when absent.
  public func lookup(key: [UInt8], processor: Int = 0) -> [UInt8]? {
    guard kind != .programArray, key.count == Int(definition.keySize), let slot = slot(for: key)
    else { return nil }
    return space.read(
      valueAddress(slot: slot, processor: processor), count: Int(definition.valueSize))
  }

  /// Every processor's value for `key` (one element for shared maps).
  public func perProcessorValues(key: [UInt8]) -> [[UInt8]]? {
    guard kind != .programArray, key.count == Int(definition.keySize), let slot = slot(for: key)
    else { return nil }
    return (0..<processors).compactMap {
      space.read(valueAddress(slot: slot, processor: $0), count: Int(definition.valueSize))
    }
  }

  /// Sets `key` to `value` (on every processor for per-CPU maps); `flags`
  /// is `BPF_ANY` 0, `BPF_NOEXIST` 1 or `BPF_EXIST` 2.
  public func update(key: [UInt8], value: [UInt8], flags: UInt64 = 0) throws(MapOperationError) {
    guard key.count == Int(definition.keySize), value.count == Int(definition.valueSize) else {
      throw MapOperationError(map: definition.name, operation: "update", code: Errno.invalid)
    }
    let result = update(key: key, value: value, flags: flags, processor: nil)
    if result != 0 {
      throw MapOperationError(map: definition.name, operation: "update", code: -result)
    }
  }

  /// Removes `key`.
  public func delete(key: [UInt8]) throws(MapOperationError) {
    let result = key.count == Int(definition.keySize) ? delete(key: key) : -Errno.invalid
    if result != 0 {
      throw MapOperationError(map: definition.name, operation: "delete", code: -result)
    }
  }

  /// The keys present, in slot order.
  public var keys: [[UInt8]] {
    switch kind {
    case .array: (0..<definition.maxEntries).map { Self.key($0) }
    case .sparseArray: occupied.indices.filter { occupied[$0] }.map { Self.key(UInt32($0)) }
    case .hash: keyBySlot.compactMap { $0 }
    case .programArray: programs.indices.filter { programs[$0] != nil }.map { Self.key(UInt32($0)) }
    }
  }

  /// Puts a prepared program at `index` of a PROG_ARRAY (nil clears it).
  public func setProgram(_ program: PreparedProgram?, at index: UInt32) throws(MapOperationError) {
    guard kind == .programArray, Int(index) < programs.count else {
      throw MapOperationError(map: definition.name, operation: "update", code: Errno.invalid)
    }
    programs[Int(index)] = program
  }

  /// A 4-byte little-endian key.
  public static func key(_ index: UInt32) -> [UInt8] {
    withUnsafeBytes(of: index.littleEndian) { Array($0) }
  }
}
