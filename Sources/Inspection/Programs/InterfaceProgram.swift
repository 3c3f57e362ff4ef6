import BPF
import Kernel

/// A program on an interface as the kernel reports it, whoever attached
/// it (xdpbatch's link, `ip link set … xdp obj …`, another loader): the
/// attached program (``attached(to:)``, found with `bpf_xdp_query`), or a
/// program it runs through (``init(interface:interfaceIndex:programID:mode:)``).
public struct InterfaceProgram: Sendable {
  /// The interface name.
  public let interface: String
  /// Its index.
  public let interfaceIndex: UInt32
  /// The program's kernel id.
  public let programID: UInt32
  /// The program, open.
  public let program: LoadedProgram
  /// The mode of the attachment it belongs to (`nil`: the kernel did not
  /// say).
  public let mode: AttachMode?

  /// Opens program `programID` as a program of `interface`'s attachment
  /// in `mode`.
  public init(interface: String, interfaceIndex: UInt32, programID: UInt32, mode: AttachMode?)
    throws(InspectionError)
  {
    self.interface = interface
    self.interfaceIndex = interfaceIndex
    self.programID = programID
    self.mode = mode
    do {
      program = try LoadedProgram.open(id: programID)
    } catch {
      throw .kernel(error)
    }
  }

  /// The program attached to `interface` (native first, then generic,
  /// then offloaded, when several modes hold one); throws when the
  /// interface is missing or runs no XDP program.
  public static func attached(to interface: String) throws(InspectionError) -> InterfaceProgram {
    guard let index = NetworkInterface.index(of: interface) else {
      throw .interfaceNotFound(interface)
    }
    let programs: [(mode: AttachMode?, id: UInt32)]
    do {
      programs = try NetlinkXDP.programs(interfaceIndex: index, interface: interface)
    } catch {
      throw .kernel(error)
    }
    guard let first = programs.first else { throw .noProgram(interface: interface) }
    return try InterfaceProgram(
      interface: interface, interfaceIndex: index, programID: first.id, mode: first.mode)
  }

  /// The program's maps, in the order the kernel lists them.
  public func maps() throws(InspectionError) -> [KernelMap] {
    do {
      return try program.maps()
    } catch {
      throw .kernel(error)
    }
  }

  /// The map named `name` (the kernel keeps 15 characters of a name, so a
  /// longer name matches its first 15), or an error listing the names.
  public func map(named name: String) throws(InspectionError) -> KernelMap {
    let maps = try maps()
    let kernelName = MapInfo.kernelName(name)
    guard let map = maps.first(where: { $0.info.name == name || $0.info.name == kernelName })
    else {
      throw .unknownMap(name: name, interface: interface, available: maps.map(\.info.name))
    }
    return map
  }

  /// The per-CPU counts of the program, when one of its maps is an
  /// action-counters map (xdpbatch's counting pass adds one).
  public func perCPUActionCounts() -> PerCPUActionCounts? {
    guard let maps = try? maps(),
      let counters = maps.first(where: { ActionCounters.hasLayout($0.info) })
    else { return nil }
    return try? ActionCounters(map: counters).readPerCPU()
  }
}
