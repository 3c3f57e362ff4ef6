import BPF
import Control
import Glibc

/// The software datapath's kernel half on one interface: the redirect
/// program (``RedirectProgram``) attached through the interface's pinned
/// link, its sockets map, and the fallback program array holding the
/// user's per-packet program with its counting pass, all pinned so that
/// they outlive the datapath process.
public struct KernelSide: Sendable {
  /// The interface.
  public let interface: String
  /// Its index.
  public let interfaceIndex: UInt32
  /// Where everything is pinned.
  public let pins: DatapathPins
  /// Queue -> AF_XDP socket.
  public let sockets: KernelMap
  /// The datapath's own counters.
  public let counters: DatapathCounters
  /// The fallback program's maps, by index in the object's map table
  /// (the action counters left out): the kernel's copies of the user's
  /// maps, which `xdpbatch map` changes and the datapath's engines follow
  /// for redirect maps (``RedirectMapMirror``).
  public let fallbackMaps: [Int: KernelMap]

  /// Installs the kernel half for `source` on `interface`: the fallback
  /// first (the user's program, counted into the interface's action
  /// counters, continuing the maps of the program it replaces: see
  /// `XDPAttachment.Request.continuingMaps(of:)`), then the redirect program, which replaces xdpbatch's
  /// program on the link atomically (or makes the link). On failure the
  /// pins this call made are removed and the link is as it was.
  public static func install(_ source: ProgramSource, on interface: String, mode: AttachMode)
    throws(DatapathError) -> KernelSide
  {
    let index = if_nametoindex(interface)
    guard index != 0 else { throw .interfaceNotFound(interface) }
    let pins = DatapathPins(interface: interface)
    let directory = pins.directory
    var made: [String] = []
    var succeeded = false
    defer {
      if !succeeded { for path in made.reversed() { unlink(path) } }
    }
    do {
      try directory.ensureMounted()
      for path in [directory.root, directory.path] where access(path, F_OK) != 0 {
        guard mkdir(path, 0o700) == 0 else { throw SystemCallError("create \(path)", code: errno) }
      }
      let actionCounters: ActionCounters
      if access(directory.countersPath, F_OK) == 0 {
        actionCounters = ActionCounters(
          map: try KernelMap.open(pinnedAt: directory.countersPath, as: ActionCounters.definition))
      } else {
        actionCounters = try ActionCounters.create()
        try actionCounters.map.pin(at: directory.countersPath)
        made.append(directory.countersPath)
      }
      let request: XDPAttachment.Request
      do {
        request = try source.request().continuingMaps(of: interface)
      } catch {
        throw DatapathFailure.wrapped(.source(error))
      }
      let fallbackProgram: ProgramLoader.Loaded
      do {
        fallbackProgram = try request.load(counters: actionCounters)
      } catch {
        throw DatapathFailure.wrapped(.load(error))
      }
      let sockets = try openOrCreate(RedirectProgram.socketsMap, at: pins.socketsPath, &made)
      let fallback = try openOrCreate(RedirectProgram.fallbackMap, at: pins.fallbackPath, &made)
      try fallback.update(
        key: DatapathCounters.bytes(UInt32(0)),
        value: DatapathCounters.bytes(
          UInt32(bitPattern: fallbackProgram.program.descriptor.rawValue)))
      let hadCounters = access(pins.countersPath, F_OK) == 0
      let counters = try DatapathCounters.openOrCreate(pins)
      if !hadCounters { made.append(pins.countersPath) }
      let redirect: LoadedProgram
      do {
        redirect = try ProgramLoader(
          maps: [RedirectProgram.socketsMap, RedirectProgram.fallbackMap],
          reusing: [0: sockets, 1: fallback]
        ).load(RedirectProgram.program).program
      } catch {
        throw DatapathFailure.wrapped(.load(.load(error)))
      }
      let existing: XDPAttachment?
      do {
        existing = try XDPAttachment.open(interface: interface)
      } catch {
        throw DatapathFailure.wrapped(.load(error))
      }
      if let existing {
        try existing.link.update(to: redirect, expecting: try existing.program())
      } else {
        let link = try XDPLink.attach(redirect, interfaceIndex: index, mode: mode)
        try link.pin(at: directory.linkPath)
      }
      succeeded = true
      var fallbackMaps = fallbackProgram.maps
      if let index = request.countersMapIndex { fallbackMaps[index] = nil }
      return KernelSide(
        interface: interface, interfaceIndex: index, pins: pins, sockets: sockets,
        counters: counters, fallbackMaps: fallbackMaps)
    } catch let failure as DatapathFailure {
      throw failure.error
    } catch let error as SystemCallError {
      if error.code == EBUSY {
        throw .foreignProgram(interface: interface, program: "(attached by another tool)")
      }
      throw .kernel(error)
    } catch {
      throw .kernel(SystemCallError("install the datapath on \(interface): \(error)", code: EIO))
    }
  }

  private static func openOrCreate(
    _ definition: MapDefinition, at path: String, _ made: inout [String]
  ) throws(SystemCallError) -> KernelMap {
    if access(path, F_OK) == 0 { return try KernelMap.open(pinnedAt: path, as: definition) }
    let map = try KernelMap.create(definition)
    try map.pin(at: path)
    made.append(path)
    return map
  }

  /// Registers `socket` as the AF_XDP socket of `queue`: from now on the
  /// queue's frames go to it.
  public func register(socket: Int32, queue: UInt32) throws(SystemCallError) {
    try sockets.update(
      key: DatapathCounters.bytes(queue), value: DatapathCounters.bytes(UInt32(bitPattern: socket)))
  }

  /// Removes the datapath's pins of `interface` (sockets map, fallback,
  /// datapath counters). The link and the action counters belong to the
  /// attachment and go with `detach`.
  public static func removePins(interface: String, keepCounters: Bool = false) {
    let pins = DatapathPins(interface: interface)
    for path in pins.all where !(keepCounters && path == pins.countersPath) { unlink(path) }
  }
}

/// Carries a ``DatapathError`` through a `throws(SystemCallError)` block.
private struct DatapathFailure: Error {
  var error: DatapathError
  static func wrapped(_ error: DatapathError) -> DatapathFailure { DatapathFailure(error: error) }
}
