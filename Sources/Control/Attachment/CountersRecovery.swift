import BPF
import CBPF
import Glibc

/// Finds the action-counters map of a running program when its pin is
/// gone (an older xdpbatch's rollback could unpin it under a concurrent
/// attach) and pins it again, so the interface is usable without hand
/// repair.
enum CountersRecovery {
  /// The counters map that program `programID` uses, pinned again at
  /// `path`; `nil` when the program uses none.
  static func repin(programID: UInt32, at path: String) throws(SystemCallError) -> KernelMap? {
    let program = try LoadedProgram.open(id: programID)
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    try check("read the maps of program \(programID)") {
      bpf_obj_get_info_by_fd(program.descriptor.rawValue, &info, &length)
    }
    var ids = [UInt32](repeating: 0, count: Int(info.nr_map_ids))
    guard !ids.isEmpty else { return nil }
    info = bpf_prog_info()
    info.nr_map_ids = UInt32(ids.count)
    length = UInt32(MemoryLayout<bpf_prog_info>.size)
    try ids.withUnsafeMutableBufferPointer { (buffer) throws(SystemCallError) in
      info.map_ids = UInt64(UInt(bitPattern: buffer.baseAddress))
      try check("read the maps of program \(programID)") {
        bpf_obj_get_info_by_fd(program.descriptor.rawValue, &info, &length)
      }
    }
    let definition = ActionCounters.definition
    for id in ids.prefix(Int(info.nr_map_ids)) {
      let fd = bpf_map_get_fd_by_id(id)
      guard fd >= 0 else { continue }
      let map = KernelMap(descriptor: KernelDescriptor(owning: fd), definition: definition)
      guard let mapInfo = try? map.info(),
        mapInfo.type == definition.type.rawValue, mapInfo.key_size == definition.keySize,
        mapInfo.value_size == definition.valueSize, mapInfo.max_entries == definition.maxEntries,
        withUnsafeBytes(
          of: mapInfo.name, { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
          == String(definition.name.prefix(15))
      else { continue }
      do {
        try map.pin(at: path)
      } catch  where error.code == EEXIST {
        return try KernelMap.open(pinnedAt: path, as: definition)
      }
      return map
    }
    return nil
  }
}
