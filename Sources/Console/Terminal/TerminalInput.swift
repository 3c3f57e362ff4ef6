import CNcursesw

/// What one read from the terminal produced.
public enum TerminalInput: Hashable, Sendable {
  /// A key.
  case key(Key)
  /// The terminal changed size (curses' `KEY_RESIZE`).
  case resize
  /// Nothing within the read timeout: time to draw the next frame.
  case tick
  /// The terminal went away (hang-up): nothing more will be read.
  case closed

  /// Decodes `wget_wch`'s result: `status` is `OK` for a character,
  /// `KEY_CODE_YES` for a function key and `ERR` for a timeout; `code` is
  /// the character or key code.
  public init(status: Int32, code: UInt32) {
    if status == cncurses_key_code_yes() {
      self = Self.functionKey(Int32(bitPattern: code))
    } else if status == cncurses_ok() {
      self = .key(Self.character(code))
    } else {
      self = .tick
    }
  }

  private static func character(_ code: UInt32) -> Key {
    switch code {
    case 3: .interrupt
    case 9: .tab
    case 10, 13: .enter
    case 27: .escape
    case 8, 127: .backspace
    case 0..<32: .other(Int(code))
    default: Unicode.Scalar(code).map { .character(Character($0)) } ?? .other(Int(code))
    }
  }

  private static func functionKey(_ code: Int32) -> TerminalInput {
    switch code {
    case KEY_RESIZE: .resize
    case KEY_UP: .key(.up)
    case KEY_DOWN: .key(.down)
    case KEY_LEFT: .key(.left)
    case KEY_RIGHT: .key(.right)
    case KEY_PPAGE: .key(.pageUp)
    case KEY_NPAGE: .key(.pageDown)
    case KEY_HOME: .key(.home)
    case KEY_END: .key(.end)
    case KEY_BTAB: .key(.backTab)
    case KEY_ENTER: .key(.enter)
    case KEY_BACKSPACE, KEY_DC: .key(.backspace)
    default: .key(.other(Int(code)))
    }
  }
}
