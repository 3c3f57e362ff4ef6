import BPF
import CBPF
import ControlTestSupport
import Foundation
import Glibc
import TestSupport
import Testing

@testable import Control

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
