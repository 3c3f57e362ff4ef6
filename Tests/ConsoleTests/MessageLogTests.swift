import Console
import Foundation
import Testing

/// The message log as the first hour found it (issue 24): each message
/// once, in full, newest last with the view at the end, with its time.
@Suite struct MessageLogTests: ConsoleRendering {
  let catalog = ThemeCatalog(directories: [])

  /// The rendered log's lines: the dialog spans columns 2 to width-3,
  /// its text starts a column inside the border.
  func logLines(_ snapshot: ConsoleSnapshot, _ state: ConsoleState, width: Int = 80) -> [String] {
    render(snapshot, state, width: width).map { row in
      let cells = Array(row)
      guard cells.count > 4 else { return "" }
      return String(cells[4..<min(cells.count, width - 3)]).trimmingCharacters(in: .whitespaces)
    }
  }

  @Test func aStatusShownAgainAfterANoticeIsNotLoggedTwice() throws {
    let snapshot = try Fixtures.live()
    var state = started(snapshot)
    state.logShownMessage(of: snapshot, at: 1_800_000_000)
    state.notice = .info("theme: mono")
    state.logShownMessage(of: snapshot, at: 1_800_000_001)
    // The key after clears the notice: the snapshot's status shows again,
    // the same message as before, not a new one.
    state.notice = nil
    state.logShownMessage(of: snapshot, at: 1_800_000_002)
    state.logShownMessage(of: snapshot, at: 1_800_000_003)
    #expect(
      state.log.entries.map(\.message.text) == [
        "attached xdp_prog1 to ens1f1 (native), batch of 64", "theme: mono",
      ])
    // The same notice set again is a second occurrence, counted on its entry.
    state.notice = .info("theme: mono")
    state.logShownMessage(of: snapshot, at: 1_800_000_004)
    state.notice = .info("theme: mono")
    state.logShownMessage(of: snapshot, at: 1_800_000_005)
    #expect(state.log.count == 2)
    #expect(state.log.entries.last?.count == 3)
  }

  @Test func aLongMessageIsWrappedInFull() throws {
    var snapshot = try Fixtures.live()
    snapshot.status = nil
    var state = started(snapshot)
    let words = (1...40).map { "word\($0)" }
    state.logLibraryMessage(.error("libbpf: " + words.joined(separator: " ")), at: 1_800_000_000)
    _ = state.reduce(.character("l"), in: snapshot)
    let text = logLines(snapshot, state).joined(separator: " ")
    for word in words { #expect(text.contains(" \(word) ") || text.hasSuffix(" \(word)")) }
  }

  @Test func theLogOpensAtTheNewestEntry() throws {
    var snapshot = try Fixtures.live()
    snapshot.status = nil
    var state = started(snapshot)
    for index in 1...60 {
      state.logLibraryMessage(.info("libbpf: message \(index)"), at: 1_800_000_000 + Double(index))
    }
    _ = state.reduce(.character("l"), in: snapshot)
    let text = logLines(snapshot, state).joined(separator: "\n")
    #expect(text.contains("message 60"))
    #expect(!text.contains("message 1\n") && !text.hasSuffix("message 1"))
    _ = state.reduce(.home, in: snapshot)
    #expect(logLines(snapshot, state).contains { $0.hasSuffix("message 1") })
  }

  @Test func eachEntryShowsItsLocalTime() throws {
    var snapshot = try Fixtures.live()
    snapshot.status = nil
    var state = started(snapshot)
    let time: time_t = 1_800_000_000
    state.logLibraryMessage(.info("libbpf: loaded"), at: Double(time) + 0.7)
    var parts = tm()
    var seconds = time
    localtime_r(&seconds, &parts)
    let clock = String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    _ = state.reduce(.character("l"), in: snapshot)
    #expect(logLines(snapshot, state).contains("\(clock) · libbpf: loaded"))
  }
}
