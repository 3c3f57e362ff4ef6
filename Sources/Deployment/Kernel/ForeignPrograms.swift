import Glibc
import Kernel

/// XDP programs on an interface that xdpbatch did not attach, and how to
/// take them off (and put them back).
struct ForeignPrograms {
  /// The interface name.
  var interface: String
  /// Its index.
  var index: UInt32
  /// The attached programs, with names.
  var programs: [AttachedProgram]

  /// Reads what is attached to `interface` now.
  init(interface: String, index: UInt32) throws(SystemCallError) {
    self.interface = interface
    self.index = index
    let links = try LinkRecord.dump(over: NetlinkSocket(protocol: NetlinkSocket.route))
    let state = links.first { $0.index == index }?.xdp ?? .none
    programs = state.programs.map { attached in
      AttachedProgram(
        mode: attached.mode, id: attached.id,
        name: try? LoadedProgram.open(id: attached.id).info().name)
    }
  }

  /// Detaches every program: XDP links through `bpf_link_detach`, the
  /// others through netlink (`bpf_xdp_detach`). Adds to `rollback` the
  /// steps that attach each program again (through netlink) in its mode.
  func detach(into rollback: inout Rollback) throws(SystemCallError) {
    let links = try XDPLink.links(onInterface: index)
    for program in programs {
      let loaded = try LoadedProgram.open(id: program.id)
      if let link = links.first(where: { $0.info.programID == program.id })?.link {
        try link.detach()
      } else {
        try NetlinkXDP.detach(
          programID: program.id, from: interface, interfaceIndex: index, mode: program.mode)
      }
      let interfaceIndex = index
      rollback.add {
        try? NetlinkXDP.attach(loaded, interfaceIndex: interfaceIndex, mode: program.mode)
      }
    }
  }
}
