import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Output files (`run -w`, `rewrite -o`) are written in place: a device
/// such as /dev/null stays a device. (Foundation's `createFile` renames a
/// temporary file over the path, which as root replaced /dev/null with a
/// regular file.) Tested on a null device made in a temporary folder, never
/// on the machine's own /dev/null.
@Suite(
  "output files are written in place",
  .enabled(if: Command.ready, Command.missingReason),
  .enabled(if: getuid() == 0, "needs root to make a device node (mknod)"))
struct OutputFileTests {
  @Test("-w and -o to a character device leave it a character device")
  func deviceStaysADevice() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-output-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let device = folder.appendingPathComponent("null").path
    try #require(mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0, "mknod: \(errno)")
    func isCharacterDevice() -> Bool {
      var status = stat()
      return lstat(device, &status) == 0 && status.st_mode & S_IFMT == S_IFCHR
    }
    let run = try Command.run(["run", Command.sample("xdp1"), "--packets", "3", "-w", device])
    #expect(run.status == 0, "\(run.errors)")
    #expect(isCharacterDevice())
    let rewrite = try Command.run(["rewrite", Command.sample("xdp1"), "-o", device])
    #expect(rewrite.status == 0, "\(rewrite.errors)")
    #expect(isCharacterDevice())
    let missing = try Command.run([
      "run", Command.sample("xdp1"), "--packets", "1", "-w", folder.path + "/no/such/dir/x.pcap",
    ])
    #expect(missing.status == 1)
    #expect(missing.errors.contains("cannot write \(folder.path)/no/such/dir/x.pcap: No such file"))
  }
}
