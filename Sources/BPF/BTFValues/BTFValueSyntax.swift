/// The written form of a value for `map update`: what ``BTFValue``'s
/// description prints, and JSON. Barewords are numbers, enumerator names,
/// `true`/`false` or `hex:BYTES`; strings are double-quoted; arrays use
/// `[ ]` and structs `{ name: value, ... }` (names may be quoted).
indirect enum BTFValueSyntax: Equatable {
  case word(String)
  case string(String)
  case list([BTFValueSyntax])
  case object([(name: String, value: BTFValueSyntax)])

  static func == (a: BTFValueSyntax, b: BTFValueSyntax) -> Bool {
    switch (a, b) {
    case (.word(let x), .word(let y)), (.string(let x), .string(let y)): x == y
    case (.list(let x), .list(let y)): x == y
    case (.object(let x), .object(let y)):
      x.count == y.count && zip(x, y).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    default: false
    }
  }

  /// How the value is written, for messages.
  var shown: String {
    switch self {
    case .word(let word): "\"\(word)\""
    case .string(let text): BTFValue.quoted(text)
    case .list: "an array"
    case .object: "a struct"
    }
  }

  /// Parses `text`; the error names the offset where it went wrong.
  static func parse(_ text: String) throws(BTFValueError) -> BTFValueSyntax {
    var parser = Parser(characters: Array(text.unicodeScalars))
    let value = try parser.value()
    parser.skipSpace()
    guard parser.position == parser.characters.count else {
      throw .syntax(text: text, offset: parser.position, reason: "unexpected text after the value")
    }
    return value
  }

  private struct Parser {
    let characters: [Unicode.Scalar]
    var position = 0

    var text: String {
      var string = ""
      string.unicodeScalars.append(contentsOf: characters)
      return string
    }

    func failure(_ reason: String) -> BTFValueError {
      .syntax(text: text, offset: position, reason: reason)
    }

    mutating func skipSpace() {
      while position < characters.count, characters[position].properties.isWhitespace {
        position += 1
      }
    }

    mutating func value() throws(BTFValueError) -> BTFValueSyntax {
      skipSpace()
      guard position < characters.count else { throw failure("a value is missing") }
      switch characters[position] {
      case "{":
        position += 1
        var members: [(name: String, value: BTFValueSyntax)] = []
        skipSpace()
        if position < characters.count, characters[position] == "}" {
          position += 1
          return .object(members)
        }
        while true {
          skipSpace()
          let name: String
          switch try value() {
          case .word(let word): name = word
          case .string(let string): name = string
          default: throw failure("a member name is expected")
          }
          skipSpace()
          guard position < characters.count,
            characters[position] == ":" || characters[position] == "="
          else { throw failure("\":\" is expected after member \"\(name)\"") }
          position += 1
          members.append((name, try value()))
          skipSpace()
          guard position < characters.count else { throw failure("\"}\" is missing") }
          if characters[position] == "," {
            position += 1
            continue
          }
          guard characters[position] == "}" else { throw failure("\",\" or \"}\" is expected") }
          position += 1
          return .object(members)
        }
      case "[":
        position += 1
        var elements: [BTFValueSyntax] = []
        skipSpace()
        if position < characters.count, characters[position] == "]" {
          position += 1
          return .list(elements)
        }
        while true {
          elements.append(try value())
          skipSpace()
          guard position < characters.count else { throw failure("\"]\" is missing") }
          if characters[position] == "," {
            position += 1
            continue
          }
          guard characters[position] == "]" else { throw failure("\",\" or \"]\" is expected") }
          position += 1
          return .list(elements)
        }
      case "\"":
        position += 1
        var string = ""
        while position < characters.count, characters[position] != "\"" {
          var scalar = characters[position]
          if scalar == "\\", position + 1 < characters.count {
            position += 1
            switch characters[position] {
            case "n": scalar = "\n"
            case "t": scalar = "\t"
            case "0": scalar = "\0"
            case "x" where position + 2 < characters.count:
              let digits = String(String.UnicodeScalarView(characters[position + 1...position + 2]))
              guard let code = UInt8(digits, radix: 16) else { throw failure("bad \\x escape") }
              scalar = Unicode.Scalar(code)
              position += 2
            default: scalar = characters[position]
            }
          }
          string.unicodeScalars.append(scalar)
          position += 1
        }
        guard position < characters.count else { throw failure("the closing quote is missing") }
        position += 1
        return .string(string)
      default:
        let start = position
        while position < characters.count,
          !characters[position].properties.isWhitespace,
          !",:={}[]\"".unicodeScalars.contains(characters[position])
            || (characters[position] == ":" && position - start == 3
              && String(String.UnicodeScalarView(characters[start..<position])) == "hex")
        {
          position += 1
        }
        guard position > start else {
          throw failure("unexpected \"\(characters[position])\"")
        }
        return .word(String(String.UnicodeScalarView(characters[start..<position])))
      }
    }
  }
}

/// Why a written key or value does not fit its map: the field (a path
/// such as `value.packets` or `key[2]`), what its type expects and what
/// was given; or a syntax error at an offset.
public enum BTFValueError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The text is not in the value syntax.
  case syntax(text: String, offset: Int, reason: String)
  /// `field` needs `expected` but got `found`.
  case mismatch(field: String, expected: String, found: String)

  /// The message for the operator.
  public var description: String {
    switch self {
    case .syntax(let text, let offset, let reason):
      "cannot read \"\(text)\" at offset \(offset): \(reason)"
    case .mismatch(let field, let expected, let found):
      "\(field): expected \(expected), got \(found)"
    }
  }
}
