import Datapath
import Inspection
import Kernel

/// The program deployed on an interface, whoever deployed it: the
/// attached program, or on the software datapath the user's program that
/// its redirect program falls back to, since that is the program, and
/// those the maps, an operator means (`maps`, `map …`, `prog`, the
/// console's maps pane, the demo's redirect maps).
public struct DeployedProgram: Sendable {
  /// The program: the user's (behind the redirect program when the
  /// software datapath runs).
  public let program: InterfaceProgram
  /// The software datapath's redirect program actually attached, when
  /// ``program`` is the user's program it falls back to.
  public let redirect: DatapathRedirect?

  /// The program deployed on `interface`; throws when the interface is
  /// missing or runs no XDP program.
  public static func on(_ interface: String) throws(InspectionError) -> DeployedProgram {
    let attached = try InterfaceProgram.attached(to: interface)
    let redirect: DatapathRedirect?
    do {
      redirect = try DatapathRedirect.of(attached.program)
    } catch {
      throw .kernel(error)
    }
    guard let redirect, let fallback = redirect.fallbackID else {
      return DeployedProgram(program: attached, redirect: nil)
    }
    return DeployedProgram(
      program: try InterfaceProgram(
        interface: interface, interfaceIndex: attached.interfaceIndex, programID: fallback,
        mode: attached.mode),
      redirect: redirect)
  }

  /// The program's map named `name`, typed from the kernel, or from the
  /// object of the record in `state` (the object xdpbatch attached).
  public func typedMap(named name: String, state: StateDirectory = StateDirectory())
    throws(InspectionError) -> TypedMap
  {
    let map = try program.map(named: name)
    return TypedMap(
      map: map,
      types: MapTypes.of(map, object: state.record(interface: program.interface)?.object))
  }

  /// How the software datapath shares `map` of this program with its
  /// engines (``Datapath/MapSharing``): nil on the kernel datapath.
  public func datapathSharing(of map: MapInfo) -> MapSharing? {
    redirect == nil ? nil : MapSharing(map.type, memoryMappable: map.isMemoryMappable)
  }
}
