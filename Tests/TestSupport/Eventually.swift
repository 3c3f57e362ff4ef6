import Foundation

/// Polls `condition` for up to `seconds` (frames cross a veth in softirq
/// context after the generator returns; a process takes a moment to
/// start); no timing is asserted: the deadline only bounds a failure.
public func eventually(seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return true }
    usleep(20_000)
  }
  return try condition()
}
