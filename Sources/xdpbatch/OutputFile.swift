import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A file a command writes its output to (`-w`, `-o`), opened in place:
/// created or truncated, never replaced by renaming a temporary file over
/// it, so that `-w /dev/null` or a named pipe stays what it is (Foundation's
/// `createFile` renames, which as root turns /dev/null into a regular file).
enum OutputFile {
  /// Opens `path` for writing, creating it (0644) or truncating it.
  static func open(_ path: String) throws -> FileHandle {
    let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw OutputFileError(path: path, reason: String(cString: strerror(errno)))
    }
    return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
  }

  /// Writes `bytes` to `path`, created or truncated in place.
  static func write(_ bytes: [UInt8], to path: String) throws {
    let file = try open(path)
    defer { try? file.close() }
    do {
      try file.write(contentsOf: bytes)
    } catch {
      throw OutputFileError(path: path, reason: "\(error.localizedDescription)")
    }
  }
}

/// An output file that could not be opened or written.
struct OutputFileError: Error, CustomStringConvertible {
  /// The file.
  var path: String
  /// The system's reason.
  var reason: String

  var description: String { "cannot write \(path): \(reason)" }
}
