/// The themes compiled into the binary, so the console has them wherever
/// it runs. They are copies of the files in the package's `Themes/` folder
/// (a test keeps the two equal); users copy and edit those files.
enum BuiltinThemes {
  /// Names and texts, in the order `t` cycles through them.
  static let all: [(name: String, text: String)] = [
    ("default", standard), ("light", light), ("colorblind", colorblind), ("mono", mono),
  ]

  /// `Themes/default.theme`.
  static let standard = """
    # xdpbatch theme, btop's format: theme[KEY]="#RRGGBB"; "" is the terminal default.
    # Dark, the default.
    theme[main_bg]="#1c1f26"
    theme[main_fg]="#cfd6e0"
    theme[title]="#eef1f5"
    theme[hi_fg]="#f5a25d"
    theme[selected_bg]="#34496e"
    theme[selected_fg]="#ffffff"
    theme[inactive_fg]="#6b7384"
    theme[div_line]="#3f4654"
    theme[focus_line]="#6aa7ff"
    theme[error_fg]="#ff5f5f"
    theme[info_fg]="#8fd18f"
    theme[graph_text]="#9aa4b2"
    theme[i40e_fg]="#ffd75f"
    theme[action_aborted]="#ff5f87"
    theme[action_drop]="#ff8c42"
    theme[action_pass]="#5fd75f"
    theme[action_tx]="#5fafff"
    theme[action_redirect]="#d787ff"
    """

  /// `Themes/light.theme`.
  static let light = """
    # xdpbatch theme, btop's format: theme[KEY]="#RRGGBB"; "" is the terminal default.
    # Light background.
    theme[main_bg]="#f6f6f2"
    theme[main_fg]="#2b2b2b"
    theme[title]="#000000"
    theme[hi_fg]="#b3541e"
    theme[selected_bg]="#cfe0fc"
    theme[selected_fg]="#000000"
    theme[inactive_fg]="#8a8a8a"
    theme[div_line]="#b8b8b8"
    theme[focus_line]="#2f6fdb"
    theme[error_fg]="#c41e1e"
    theme[info_fg]="#2e7d32"
    theme[graph_text]="#555555"
    theme[i40e_fg]="#9a6a00"
    theme[action_aborted]="#c2185b"
    theme[action_drop]="#d35400"
    theme[action_pass]="#2e7d32"
    theme[action_tx]="#1565c0"
    theme[action_redirect]="#7b1fa2"
    """

  /// `Themes/colorblind.theme`.
  static let colorblind = """
    # xdpbatch theme, btop's format: theme[KEY]="#RRGGBB"; "" is the terminal default.
    # Dark, with the Okabe–Ito palette for the five actions: distinguishable
    # with protanopia, deuteranopia and tritanopia.
    theme[main_bg]="#000000"
    theme[main_fg]="#e0e0e0"
    theme[title]="#ffffff"
    theme[hi_fg]="#f0e442"
    theme[selected_bg]="#0072b2"
    theme[selected_fg]="#ffffff"
    theme[inactive_fg]="#808080"
    theme[div_line]="#4d4d4d"
    theme[focus_line]="#56b4e9"
    theme[error_fg]="#d55e00"
    theme[info_fg]="#009e73"
    theme[graph_text]="#b0b0b0"
    theme[i40e_fg]="#f0e442"
    theme[action_aborted]="#d55e00"
    theme[action_drop]="#e69f00"
    theme[action_pass]="#009e73"
    theme[action_tx]="#56b4e9"
    theme[action_redirect]="#cc79a7"
    """

  /// `Themes/mono.theme`.
  static let mono = """
    # xdpbatch theme, btop's format: theme[KEY]="#RRGGBB"; "" is the terminal default.
    # No colour at all: the terminal's own colours, bold and reverse. NO_COLOR picks it.
    theme[main_bg]=""
    theme[main_fg]=""
    theme[title]=""
    theme[hi_fg]=""
    theme[selected_bg]=""
    theme[selected_fg]=""
    theme[inactive_fg]=""
    theme[div_line]=""
    theme[focus_line]=""
    theme[error_fg]=""
    theme[info_fg]=""
    theme[graph_text]=""
    theme[i40e_fg]=""
    theme[action_aborted]=""
    theme[action_drop]=""
    theme[action_pass]=""
    theme[action_tx]=""
    theme[action_redirect]=""
    """
}
