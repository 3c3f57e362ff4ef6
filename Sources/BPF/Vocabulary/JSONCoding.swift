import Foundation

/// How xdpbatch spells its values in JSON (command output, attachment
/// records, the software datapath's control socket): keys in snake_case,
/// made from the Swift names by the coder, not by hand-written key maps.
///
/// Encoding uses Foundation's `convertToSnakeCase` (`programID` becomes
/// `program_id`, `perCPU` `per_cpu`). Decoding reverses it with
/// ``snakeCaseKey(_:)``, which writes the acronyms xdpbatch's names use
/// (`ID`, `CPU`) in capitals, so that `program_id` finds `programID`
/// (Foundation's `convertFromSnakeCase` would look for `programId`). A
/// key whose JSON name is not the snake case of its Swift name (`tx_failed`
/// for `transmitFailed`) is given in a `CodingKeys` enum in camel case
/// (`txFailed`), which both directions turn into that JSON name.
public enum JSONCoding {
  /// Words written in capitals inside Swift names.
  static let acronyms: Set<String> = ["id", "cpu"]

  /// An encoder that writes snake_case keys with `formatting`, dates as
  /// ISO 8601.
  public static func encoder(_ formatting: JSONEncoder.OutputFormatting = [.sortedKeys])
    -> JSONEncoder
  {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = formatting
    return encoder
  }

  /// A decoder that reads what ``encoder(_:)`` writes.
  public static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .custom { path in
      let key = path.last!
      return AnyKey(snakeCaseKey(key.stringValue))
    }
    decoder.dateDecodingStrategy = .iso8601
    return decoder
  }

  /// The Swift name of a snake_case JSON key: `program_id` is `programID`,
  /// `zero_copy` `zeroCopy`; a key without underscores is itself.
  public static func snakeCaseKey(_ key: String) -> String {
    let words = key.split(separator: "_", omittingEmptySubsequences: false)
    guard words.count > 1, let first = words.first, !first.isEmpty else { return key }
    return String(first)
      + words.dropFirst().map { word in
        acronyms.contains(String(word))
          ? word.uppercased() : word.prefix(1).uppercased() + word.dropFirst()
      }.joined()
  }

  /// `value` as one line of JSON (sorted keys, slashes unescaped), `{}`
  /// if it cannot be encoded.
  public static func line(_ value: some Encodable) -> String {
    let data =
      (try? encoder([.sortedKeys, .withoutEscapingSlashes]).encode(value)) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }

  /// `value` as an indented JSON document (sorted keys, slashes unescaped).
  public static func document(_ value: some Encodable) throws -> String {
    let data = try encoder([.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]).encode(value)
    return String(decoding: data, as: UTF8.self)
  }

  /// A coding key made at run time.
  struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }
}

/// An optional value written as JSON `null` when absent, where a shape
/// promises the key (`"driver": null`), instead of leaving the key out as
/// `Codable` does for optionals.
@propertyWrapper
public struct NullWhenAbsent<Value: Encodable & Sendable & Hashable>: Encodable, Sendable, Hashable
{
  /// The value, nil when absent.
  public var wrappedValue: Value?

  /// Wraps `wrappedValue`.
  public init(wrappedValue: Value?) {
    self.wrappedValue = wrappedValue
  }

  /// The value, or `null`.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    if let wrappedValue {
      try container.encode(wrappedValue)
    } else {
      try container.encodeNil()
    }
  }
}
