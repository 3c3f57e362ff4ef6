import Foundation

/// The programs of a list of compiled objects, for tests that run every
/// one: an object that cannot be read is kept as a failure naming it and
/// the reader's error, never dropped, so a suite checks ``unreadable`` is
/// empty (and ``programs`` is not) instead of silently testing less.
public struct ProgramListing<Program: Sendable>: Sendable {
  /// Every program the readable objects hold, in object order.
  public var programs: [Program]
  /// `PATH: ERROR` for each object the reader refused.
  public var unreadable: [String]

  /// Reads each of `objects` with `read`, which lists its programs.
  public init(objects: [URL], read: (URL) throws -> [Program]) {
    programs = []
    unreadable = []
    for object in objects {
      do {
        programs += try read(object)
      } catch {
        unreadable.append("\(object.path): \(error)")
      }
    }
  }
}
