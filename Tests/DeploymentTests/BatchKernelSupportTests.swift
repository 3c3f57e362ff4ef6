import BPF
import CBPF
import Foundation
import Testing

@testable import Deployment

/// The batch-capability probe, on this kernel's BTF and on synthetic BTF.
@Suite struct BatchKernelSupportTests {
  static let vmlinuxReadable = access(BatchKernelSupport.vmlinuxPath, R_OK) == 0

  /// `struct xdp_buff` as libbpf reads it: member name -> bit offset, and
  /// the struct's size.
  static func libbpfLayout() throws -> (members: [String: UInt32], size: UInt32) {
    let btf = try #require(btf__parse(BatchKernelSupport.vmlinuxPath, nil))
    defer { btf__free(btf) }
    let id = btf__find_by_name_kind(btf, "xdp_buff", UInt32(BTF_KIND_STRUCT))
    try #require(id > 0)
    let type = try #require(btf__type_by_id(btf, UInt32(id)))
    var members: [String: UInt32] = [:]
    let count = Int(btf_vlen(type))
    let first = try #require(btf_members(type))
    for index in 0..<count {
      let member = first + index
      let name = String(cString: btf__name_by_offset(btf, member.pointee.name_off))
      if !name.isEmpty { members[name] = btf_member_bit_offset(type, UInt32(index)) }
    }
    return (members, type.pointee.size)
  }

  @Test(.enabled(if: vmlinuxReadable, "needs /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)"))
  func thisKernelMatchesLibbpfAndHasNoActionField() throws {
    let support = try BatchKernelSupport.probe()
    let reference = try Self.libbpfLayout()
    #expect(support.bufferSize == UInt64(reference.size))
    let ours = Dictionary(uniqueKeysWithValues: support.fields.map { ($0.name, $0.bitOffset) })
    for name in ["data", "data_end", "data_meta", "data_hard_start", "rxq"] {
      #expect(ours[name] != nil, "xdp_buff.\(name) missing")
      #expect(reference.members[name] != nil, "libbpf: xdp_buff.\(name) missing")
    }
    // Every top-level named member libbpf sees sits where we found it.
    for (name, offset) in reference.members {
      #expect(ours[name] == offset, "xdp_buff.\(name)")
    }
    #expect(support.actionField == nil)
    #expect(!support.isBatchCapable)
  }

  @Test func syntheticKernelWithActionField() throws {
    var blob = SyntheticBTF()
    let u32 = blob.integer("u32", size: 4)
    let pointer = blob.pointer(to: 0)
    let union = blob.structure(
      "", size: 4, kind: .union, members: [("act", u32, 0), ("flags_alias", u32, 0)])
    let buffer = blob.structure(
      "xdp_buff", size: 32,
      members: [
        ("data", pointer, 0), ("data_end", pointer, 64), ("frame_sz", u32, 128), ("", union, 160),
      ])
    _ = buffer
    let btf = try BTF(bytes: blob.bytes(), name: "synthetic")
    let support = try BatchKernelSupport(btf: btf)
    #expect(support.bufferSize == 32)
    let field = try #require(support.actionField)
    #expect(field.name == "act")
    #expect(field.offset == 20)
    #expect(field.size == 4)
    // An action field alone is not the batch patches' interface: the
    // program's struct xdp_md has no act.
    #expect(!support.isBatchCapable)
    #expect(support.interface == nil)
    #expect(support.interfaceError == .missingType("xdp_md"))
  }

  /// The types of a kernel with the batch patches: `struct xdp_md` with
  /// `act` at byte 24, `struct xdp_buff` (64 bytes) with its own `act`.
  @Test func syntheticKernelWithTheBatchInterface() throws {
    var blob = SyntheticBTF()
    let u32 = blob.integer("u32", size: 4)
    let pointer = blob.pointer(to: 0)
    let view = [
      "data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index",
      "egress_ifindex", "act",
    ].enumerated().map { index, name in
      (name: name, type: u32, bitOffset: UInt32(index) * 32)
    }
    _ = blob.structure("xdp_md", size: UInt32(view.count * 4), members: view)
    _ = blob.structure(
      "xdp_buff", size: 64,
      members: [("data", pointer, 0), ("data_end", pointer, 64), ("act", u32, 448)])
    let support = try BatchKernelSupport(btf: BTF(bytes: blob.bytes(), name: "patched"))
    #expect(support.actionField?.offset == 56)
    let interface = try #require(support.interface)
    #expect(support.isBatchCapable)
    #expect(support.interfaceError == nil)
    #expect(interface.layout.stride == 64)
    #expect(interface.layout.action == 24)
  }

  @Test func syntheticKernelWithoutActionFieldOrBuffer() throws {
    var withBuffer = SyntheticBTF()
    let u32 = withBuffer.integer("u32", size: 4)
    _ = withBuffer.structure(
      "xdp_buff", size: 8, members: [("frame_sz", u32, 0), ("actx", u32, 32)])
    let support = try BatchKernelSupport(btf: BTF(bytes: withBuffer.bytes(), name: "stock"))
    #expect(support.actionField == nil)
    #expect(support.fields.map(\.name) == ["frame_sz", "actx"])

    var without = SyntheticBTF()
    _ = without.integer("u32", size: 4)
    #expect(throws: BatchProbeError.self) {
      try BatchKernelSupport(btf: BTF(bytes: without.bytes(), name: "none"))
    }
  }
}

/// Builds a raw BTF blob type by type (the layout of
/// `include/uapi/linux/btf.h`), for tests that need a kernel's BTF with
/// chosen types.
struct SyntheticBTF {
  private var types: [UInt8] = []
  private var strings: [UInt8] = [0]
  private var count: UInt32 = 0

  private mutating func name(_ text: String) -> UInt32 {
    if text.isEmpty { return 0 }
    let offset = UInt32(strings.count)
    strings += Array(text.utf8) + [0]
    return offset
  }

  private mutating func word(_ value: UInt32) {
    types += withUnsafeBytes(of: value.littleEndian, Array.init)
  }

  private mutating func header(name: String, kind: BTFKind, vlen: Int, sizeOrType: UInt32)
    -> UInt32
  {
    word(self.name(name))
    word(UInt32(kind.rawValue) << 24 | UInt32(vlen))
    word(sizeOrType)
    count += 1
    return count
  }

  mutating func integer(_ name: String, size: UInt32) -> UInt32 {
    let id = header(name: name, kind: .integer, vlen: 0, sizeOrType: size)
    word(size * 8)
    return id
  }

  mutating func pointer(to type: UInt32) -> UInt32 {
    header(name: "", kind: .pointer, vlen: 0, sizeOrType: type)
  }

  mutating func structure(
    _ name: String, size: UInt32, kind: BTFKind = .structure,
    members: [(name: String, type: UInt32, bitOffset: UInt32)]
  ) -> UInt32 {
    let id = header(name: name, kind: kind, vlen: members.count, sizeOrType: size)
    for member in members {
      word(self.name(member.name))
      word(member.type)
      word(member.bitOffset)
    }
    return id
  }

  func bytes() -> [UInt8] {
    var header: [UInt8] = [0x9f, 0xeb, 1, 0]
    for value in [24, 0, UInt32(types.count), UInt32(types.count), UInt32(strings.count)]
      as [UInt32]
    {
      header += withUnsafeBytes(of: value.littleEndian, Array.init)
    }
    return header + types + strings
  }
}
