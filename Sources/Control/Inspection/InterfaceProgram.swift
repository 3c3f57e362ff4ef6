import CBPF
import CLinux
import Glibc

/// The XDP program attached to an interface, by whoever attached it
/// (xdpbatch's link, `ip link set … xdp obj …`, another loader), found with
/// `bpf_xdp_query`. On an interface the software datapath runs, the
/// attached program is its redirect program; by default this is then the
/// user's program that redirect program falls back to (``redirect`` says
/// so), since that is the program, and those the maps, an operator means.
public struct InterfaceProgram: Sendable {
  /// The interface name.
  public let interface: String
  /// Its index.
  public let interfaceIndex: UInt32
  /// The program's kernel id: the attached program's (native first, then
  /// generic, then offloaded, when several modes hold one), or the user's
  /// program behind the software datapath's redirect program.
  public let programID: UInt32
  /// The program, open.
  public let program: LoadedProgram
  /// The `XDP_FLAGS_*_MODE` flag of the mode it runs in.
  public let modeFlags: UInt32
  /// The software datapath's redirect program actually attached, when
  /// ``program`` is the user's program it falls back to.
  public let redirect: DatapathRedirect?

  /// The program on `interface`; throws when the interface is missing or
  /// runs no XDP program. With `followingDatapath` (the default) the
  /// software datapath's redirect program is followed to the user's
  /// program in its fallback slot; without, the attached program itself
  /// (what a capture swaps on the link).
  public static func find(interface: String, followingDatapath: Bool = true)
    throws(InspectionError) -> InterfaceProgram
  {
    let index = if_nametoindex(interface)
    guard index != 0 else { throw .interfaceNotFound(interface) }
    var options = bpf_xdp_query_opts()
    options.sz = MemoryLayout<bpf_xdp_query_opts>.size
    do {
      try check("query the XDP programs of \(interface)") {
        bpf_xdp_query(Int32(bitPattern: index), 0, &options)
      }
    } catch {
      throw .kernel(error)
    }
    let candidates: [(UInt32, UInt32)] = [
      (options.drv_prog_id, UInt32(XDP_FLAGS_DRV_MODE)),
      (options.skb_prog_id, UInt32(XDP_FLAGS_SKB_MODE)),
      (options.hw_prog_id, UInt32(XDP_FLAGS_HW_MODE)),
      (options.prog_id, 0),
    ]
    guard let (id, flags) = candidates.first(where: { $0.0 != 0 }) else {
      throw .noProgram(interface: interface)
    }
    do {
      if followingDatapath, let redirect = try DatapathRedirect.of(programID: id),
        let fallback = redirect.fallbackID
      {
        return InterfaceProgram(
          interface: interface, interfaceIndex: index, programID: fallback,
          program: try LoadedProgram.open(id: fallback), modeFlags: flags, redirect: redirect)
      }
      return InterfaceProgram(
        interface: interface, interfaceIndex: index, programID: id,
        program: try LoadedProgram.open(id: id), modeFlags: flags, redirect: nil)
    } catch {
      throw .kernel(error)
    }
  }

  /// The program's maps, in the order the kernel lists them.
  public func maps() throws(InspectionError) -> [InspectedMap] {
    do {
      return try ProgramDetails(program.descriptor).mapIDs.map { id throws(SystemCallError) in
        try InspectedMap.open(id: id)
      }
    } catch {
      throw .kernel(error)
    }
  }

  /// The map named `name` (the kernel keeps 15 characters of a name, so a
  /// longer name matches its first 15), or an error listing the names.
  public func map(named name: String) throws(InspectionError) -> InspectedMap {
    let maps = try maps()
    let kernelName = String(name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
    guard let map = maps.first(where: { $0.summary.name == name || $0.summary.name == kernelName })
    else {
      throw .unknownMap(name: name, interface: interface, available: maps.map(\.summary.name))
    }
    return map
  }
}
