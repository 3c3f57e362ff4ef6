import CBPF
import Glibc

/// What the kernel knows about any loaded program, as `bpftool prog show`
/// prints it: name, id, tag, run statistics and the maps it uses. The
/// console shows this for a program another tool attached, whose
/// counters xdpbatch cannot see.
public struct ProgramDetails: Hashable, Sendable {
  /// Id, name and run statistics.
  public var info: ProgramInfo
  /// The tag (a hash of the instructions), 16 hex digits.
  public var tag: String
  /// The maps the program uses.
  public var maps: [MapSummary]

  /// One map a program uses.
  public struct MapSummary: Hashable, Sendable {
    /// The kernel's map id.
    public var id: UInt32
    /// The map's name (empty when it has none).
    public var name: String
    /// The map type as libbpf names it (`devmap`, `array`).
    public var type: String
    /// Entries the map holds at most.
    public var maxEntries: UInt32
  }

  /// Reads program `id`: `bpf_prog_info` twice (the second time for the
  /// map ids), then each map's `bpf_map_info`. A map that went away in
  /// between is left out.
  public static func read(id: UInt32) throws(SystemCallError) -> ProgramDetails {
    let program = try LoadedProgram.open(id: id)
    let fd = program.descriptor.rawValue
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    try check("read program info of id \(id)") { bpf_obj_get_info_by_fd(fd, &info, &length) }
    var mapIDs = [UInt32](repeating: 0, count: Int(info.nr_map_ids))
    if !mapIDs.isEmpty {
      var second = bpf_prog_info()
      second.nr_map_ids = UInt32(mapIDs.count)
      length = UInt32(MemoryLayout<bpf_prog_info>.size)
      try mapIDs.withUnsafeMutableBufferPointer { buffer throws(SystemCallError) in
        second.map_ids = UInt64(UInt(bitPattern: buffer.baseAddress))
        try check("read the map ids of program \(id)") {
          bpf_obj_get_info_by_fd(fd, &second, &length)
        }
      }
      mapIDs = Array(mapIDs.prefix(Int(min(second.nr_map_ids, UInt32(mapIDs.count)))))
    }
    let tag = withUnsafeBytes(of: info.tag) { raw in
      raw.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
      }.joined()
    }
    let name = withUnsafeBytes(of: info.name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    return ProgramDetails(
      info: ProgramInfo(
        id: info.id, name: name, runCount: info.run_cnt, runTimeNanoseconds: info.run_time_ns),
      tag: tag, maps: mapIDs.compactMap(Self.map(id:)))
  }

  private static func map(id: UInt32) -> MapSummary? {
    let fd = bpf_map_get_fd_by_id(id)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = bpf_map_info()
    var length = UInt32(MemoryLayout<bpf_map_info>.size)
    guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0 else { return nil }
    let name = withUnsafeBytes(of: info.name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    let type = libbpf_bpf_map_type_str(bpf_map_type(info.type)).map { String(cString: $0) }
    return MapSummary(
      id: id, name: name, type: type ?? "type \(info.type)", maxEntries: info.max_entries)
  }
}
