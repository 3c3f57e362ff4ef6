import BPF
import Console
import Testing

/// The action histogram shows failed redirects by reason in its note (and
/// under its bars, with what each reason means, when it has room), as
/// `stats` does, and nothing when there are none.
@Suite struct RedirectErrorsPaneTests {
  let catalog = ThemeCatalog(directories: [])

  func screen(_ snapshot: ConsoleSnapshot) -> String {
    var state = ConsoleState(themeNames: catalog.names)
    _ = state.reconcile(with: snapshot)
    let theme = catalog.theme(named: "default")!
    return GridTranscript.characters(
      of: ConsoleScreen.render(snapshot, state: state, theme: theme, width: 120, height: 48)
    ).joined(separator: "\n")
  }

  @Test func theHistogramShowsRedirectErrorsByReason() throws {
    var snapshot = try Fixtures.live()
    #expect(!screen(snapshot).contains("redirect errors"))
    snapshot.traffic.redirectErrors = RedirectErrors(packets: ["ENETDOWN": 16_000, "dropped": 3])
    let text = screen(snapshot)
    #expect(text.contains("redirect errors 16.0 k: ENETDOWN 16.0 k, dropped 3"), "\(text)")
    snapshot.traffic.redirectErrors = RedirectErrors()
    #expect(!screen(snapshot).contains("redirect errors"))
  }
}
