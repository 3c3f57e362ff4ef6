import BPF
import Glibc
import Kernel

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
  /// (the action counters left out): the user's maps, which `xdpbatch
  /// map` changes and the datapath's engines share (``SharedMaps``).
  public let fallbackMaps: [Int: KernelMap]

  /// Installs the kernel half on `interface`: the fallback first
  /// (`fallback`, the user's program with its counting pass, counted into
  /// the interface's action counters and taking over the maps it adopted),
  /// then the redirect program, which replaces xdpbatch's program on the
  /// link atomically (or makes the link). On failure the pins this call
  /// made are removed and the link is as it was.
  public static func install(_ fallback: ProgramSpec, on interface: String, mode: AttachMode)
    throws(DatapathError) -> KernelSide
  {
    guard let index = NetworkInterface.index(of: interface) else {
      throw .interfaceNotFound(interface)
    }
    let pins = DatapathPins(interface: interface)
    let directory = pins.directory
    var made: [String] = []
    var succeeded = false
    defer {
      if !succeeded { for path in made.reversed() { unlink(path) } }
    }
    let actionCounters: ActionCounters
    let sockets: KernelMap
    let fallbackArray: KernelMap
    let counters: DatapathCounters
    do throws(SystemCallError) {
      try directory.ensureMounted()
      _ = try directory.create()
      let (opened, created) = try directory.openOrCreateCounters()
      if created { made.append(directory.countersPath) }
      actionCounters = opened
      sockets = try openOrCreate(RedirectProgram.socketsMap, at: pins.socketsPath, &made)
      fallbackArray = try openOrCreate(
        RedirectProgram.fallbackMap, at: pins.fallbackPath, &made)
      let hadCounters = access(pins.countersPath, F_OK) == 0
      counters = try DatapathCounters.openOrCreate(pins)
      if !hadCounters { made.append(pins.countersPath) }
    } catch {
      throw kernelFailure(error, interface)
    }
    let fallbackProgram: ProgramLoader.Loaded
    do {
      fallbackProgram = try fallback.load(counters: actionCounters)
    } catch {
      throw .load(error)
    }
    let redirect: LoadedProgram
    do {
      redirect = try ProgramLoader(
        maps: [RedirectProgram.socketsMap, RedirectProgram.fallbackMap],
        reusing: [0: sockets, 1: fallbackArray]
      ).load(RedirectProgram.program).program
    } catch {
      throw .load(error)
    }
    do throws(SystemCallError) {
      try fallbackArray.update(
        key: KernelMap.key(0),
        value: KernelMap.key(UInt32(bitPattern: fallbackProgram.program.descriptor.rawValue)))
      try attach(redirect, interfaceIndex: index, mode: mode, pins: directory)
    } catch {
      throw kernelFailure(error, interface)
    }
    succeeded = true
    var fallbackMaps = fallbackProgram.maps
    if let index = fallback.countersMapIndex { fallbackMaps[index] = nil }
    return KernelSide(
      interface: interface, interfaceIndex: index, pins: pins, sockets: sockets,
      counters: counters, fallbackMaps: fallbackMaps)
  }

  /// Puts `redirect` on the interface: over the program of the pinned
  /// link (atomically, expecting the program it runs), or through a new
  /// link pinned in `pins` when there is none (or the pinned one was
  /// detached since).
  private static func attach(
    _ redirect: LoadedProgram, interfaceIndex index: UInt32, mode: AttachMode, pins: PinDirectory
  ) throws(SystemCallError) {
    if PinDirectory.exists(pins.linkPath) {
      let link = try XDPLink.open(pinnedAt: pins.linkPath)
      let info = try link.info()
      if info.interfaceIndex != 0 {
        try link.update(to: redirect, expecting: try LoadedProgram.open(id: info.programID))
        return
      }
      unlink(pins.linkPath)
    }
    let link = try XDPLink.attach(redirect, interfaceIndex: index, mode: mode)
    try link.pin(at: pins.linkPath)
  }

  /// A kernel step's failure: `EBUSY` means another tool's program holds
  /// the interface.
  private static func kernelFailure(_ error: SystemCallError, _ interface: String) -> DatapathError
  {
    if error.errno == .busy {
      return .foreignProgram(interface: interface, program: "(attached by another tool)")
    }
    return .kernel(error)
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
    try sockets.update(key: KernelMap.key(queue), value: KernelMap.key(UInt32(bitPattern: socket)))
  }
}
