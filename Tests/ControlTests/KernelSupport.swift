import BPF
import CBPF
import Foundation
import Glibc
import TestSupport
import Testing

@testable import Control

/// Whether this process can use BPF and make namespaces; the reason when not.
enum KernelAccess {
  static let unavailableReason: String? = {
    if getuid() != 0 { return "needs root (BPF syscalls, namespaces)" }
    let probe = MapDefinition(name: "probe", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
    do {
      _ = try KernelMap.create(probe)
    } catch {
      return "BPF is not usable here: \(error)"
    }
    if IPCommand.path == nil { return "iproute2's ip is not installed" }
    return nil
  }()

  static var available: Bool { unavailableReason == nil }
  static var comment: Comment { Comment(rawValue: unavailableReason ?? "root and BPF available") }
}

/// Hand-built programs of the shape the action-counting pass produces.
enum TestPrograms {
  /// Counts every frame under `action` in the counters map at index
  /// `countersIndex` (one packet, frame length bytes), then returns `action`.
  static func counting(_ action: XDPAction, name: String, countersIndex: Int32 = 0) -> Program {
    var instructions: [Instruction] = [
      .move(.r6, .r1),
      .load(.word, .r2, from: .r6, offset: 4),  // data_end
      .load(.word, .r3, from: .r6, offset: 0),  // data
      .arithmetic(.sub, .r2, .r3),
      .move(.r7, .r2),
      .store(.word, immediate: Int32(action.rawValue), to: .r10, offset: -4),
      .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    instructions += Instruction.loadImmediate64(.r1, UInt64(countersIndex), kind: .mapByIndex)
    instructions += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 6),
      .load(.doubleWord, .r1, from: .r0, offset: 0),
      .add(.r1, immediate: 1),
      .store(.doubleWord, .r1, to: .r0, offset: 0),
      .load(.doubleWord, .r1, from: .r0, offset: 8),
      .arithmetic(.add, .r1, .r7),
      .store(.doubleWord, .r1, to: .r0, offset: 8),
      .move(.r0, immediate: Int32(action.rawValue)),
      .exit,
    ]
    return Program(name: name, sectionName: "xdp", instructions: instructions)
  }

  /// `r0 = action; exit`.
  static func returning(_ action: XDPAction, name: String) -> Program {
    Program(
      name: name, sectionName: "xdp",
      instructions: [.move(.r0, immediate: Int32(action.rawValue)), .exit])
  }
}

/// Someone else's XDP program (`foreign`, returning PASS), attached the
/// legacy way (netlink, no link): what xdpbatch must refuse to replace
/// without `--force`. ``detach()`` removes it.
struct ForeignProgram {
  let interfaceIndex: Int32
  let mode: AttachMode
  /// Its kernel id.
  let id: UInt32
  private let loaded: ProgramLoader.Loaded

  init(on interface: String, mode: AttachMode) throws {
    interfaceIndex = Int32(if_nametoindex(interface))
    self.mode = mode
    loaded = try ProgramLoader(maps: []).load(TestPrograms.returning(.pass, name: "foreign"))
    id = try loaded.program.info().id
    try #require(
      bpf_xdp_attach(interfaceIndex, loaded.program.descriptor.rawValue, mode.flags, nil) == 0)
  }

  func detach() { _ = bpf_xdp_detach(interfaceIndex, mode.flags, nil) }
}

/// A namespace and a veth pair made for one test, with a per-run suffix,
/// removed by ``tearDown()`` (call it in `defer`).
struct TestNetwork {
  let namespace: NetworkNamespace
  let veth: VethPair

  init() throws {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    namespace = NetworkNamespace(name: "xbt-\(suffix)")
    veth = VethPair(
      name: "xbt\(suffix)h", peer: "xbt\(suffix)p", namespace: namespace,
      address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    _ = try NetworkNamespace.create(namespace.name)
    do {
      try veth.create()
    } catch {
      namespace.delete()
      throw error
    }
  }

  /// Removes pins, the veth pair and the namespace; safe to call twice.
  func tearDown() {
    let pins = PinDirectory(interface: veth.name)
    if let attachment = try? XDPAttachment.open(interface: veth.name) {
      try? attachment.detach()
    }
    unlink(pins.linkPath)
    unlink(pins.countersPath)
    pins.removeDirectories()
    veth.delete()
    namespace.delete()
  }

  /// A UDP frame from the peer's address to the host side's, addressed
  /// to a MAC nobody owns: the host's stack drops it as "other host"
  /// after XDP, so it answers with nothing (no ARP, no ICMP) that the
  /// counters would see.
  static let frame = FrameTemplate.udp(
    from: [2, 0, 0, 0, 0, 2], to: [2, 0, 0, 0, 0, 0x99], source: [198, 18, 0, 2],
    destination: [198, 18, 0, 1])
}

/// Polls `condition` for up to `seconds` (frames cross the veth in
/// softirq context after the generator returns); no timing is asserted.
func eventually(seconds: Double = 3, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return true }
    usleep(20_000)
  }
  return try condition()
}
