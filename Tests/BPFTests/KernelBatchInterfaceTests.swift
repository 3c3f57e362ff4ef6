import Testing

@testable import BPF

/// The batch program interface of a kernel with the batch patches, read
/// from synthetic BTF built like the kernel's: `struct xdp_md` with `act`,
/// `struct xdp_buff` with `act`, and the `bpf_xdp_batch_commit` kfunc.
@Suite struct KernelBatchInterfaceTests {
  /// The kernel's types: `recordSize` for `struct xdp_buff`, `act` in
  /// `struct xdp_md` at `actBits` (nil: no field), and whether `xdp_buff`
  /// has its own `act` and the kfunc exists.
  static func kernel(
    recordSize: UInt32 = 64, actBits: UInt32? = 192, bufferAct: Bool = true, commit: Bool = true
  ) -> BTF? {
    var encoder = BTFEncoder()
    let u32 = encoder.add(
      BTFType(
        kind: .integer, name: "u32", kindFlag: false, vlen: 0, sizeOrType: 4,
        detail: .integer(encoding: 32)))
    let pointer = encoder.add(
      BTFType(kind: .pointer, name: "", kindFlag: false, vlen: 0, sizeOrType: 0, detail: .none))
    var view = ["data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index",
      "egress_ifindex"].enumerated().map { index, name in
      BTFType.Member(name: name, type: u32, offset: UInt32(index) * 32)
    }
    if let actBits { view.append(BTFType.Member(name: "act", type: u32, offset: actBits)) }
    let viewType = encoder.add(
      BTFType(
        kind: .structure, name: "xdp_md", kindFlag: false, vlen: view.count,
        sizeOrType: UInt32(view.count * 4), detail: .members(view)))
    var buffer = ["data", "data_end", "data_meta", "data_hard_start", "rxq", "txq"].enumerated()
      .map { index, name in BTFType.Member(name: name, type: pointer, offset: UInt32(index) * 64) }
    buffer += [
      BTFType.Member(name: "frame_sz", type: u32, offset: 384),
      BTFType.Member(name: "flags", type: u32, offset: 416),
    ]
    if bufferAct { buffer.append(BTFType.Member(name: "act", type: u32, offset: 448)) }
    encoder.add(
      BTFType(
        kind: .structure, name: "xdp_buff", kindFlag: false, vlen: buffer.count,
        sizeOrType: recordSize, detail: .members(buffer)))
    if commit {
      let viewPointer = encoder.add(
        BTFType(
          kind: .pointer, name: "", kindFlag: false, vlen: 0, sizeOrType: viewType,
          detail: .none))
      let prototype = encoder.add(
        BTFType(
          kind: .functionPrototype, name: "", kindFlag: false, vlen: 1, sizeOrType: 0,
          detail: .parameters([BTFType.Member(name: "ctx", type: viewPointer, offset: 0)])))
      encoder.add(
        BTFType(
          kind: .function, name: KernelBatchInterface.commitFunctionName, kindFlag: false,
          vlen: 1, sizeOrType: prototype, detail: .none))
    }
    return try? BTF(bytes: encoder.bytes(), name: "synthetic")
  }

  @Test func readsTheRecordLayoutAndTheCommitFunction() throws {
    let btf = try #require(Self.kernel())
    let interface = try KernelBatchInterface(btf: btf)
    #expect(interface.layout.stride == 64)
    #expect(interface.layout.action == 24)
    #expect(interface.layout.data == 0)
    #expect(interface.layout.dataEnd == 4)
    #expect(interface.layout.egressInterfaceIndex == 20)
    #expect(interface.layout.redirectTarget == nil)
    let id = try #require(interface.commitFunction)
    let function = try btf.type(UInt32(id))
    #expect(function.kind == .function)
    #expect(function.name == "bpf_xdp_batch_commit")
  }

  @Test func takesTheStrideFromTheKernelNotFromConstants() throws {
    let interface = try KernelBatchInterface(btf: #require(Self.kernel(recordSize: 72)))
    #expect(interface.layout.stride == 72)
  }

  @Test func aKernelWithoutTheCommitFunctionHasNone() throws {
    let interface = try KernelBatchInterface(btf: #require(Self.kernel(commit: false)))
    #expect(interface.commitFunction == nil)
  }

  @Test func refusesAStockKernel() throws {
    let btf = try #require(Self.kernel(actBits: nil, bufferAct: false))
    #expect(throws: KernelBatchInterfaceError.noActionField(bufferSize: 64)) {
      try KernelBatchInterface(btf: btf)
    }
    let description = KernelBatchInterfaceError.noActionField(bufferSize: 64).description
    #expect(description.contains("cannot run batch XDP programs"))
  }

  @Test func refusesAnActionFieldTheProgramCannotSee() throws {
    let btf = try #require(Self.kernel(actBits: nil))
    #expect(throws: KernelBatchInterfaceError.missingField(type: "xdp_md", field: "act")) {
      try KernelBatchInterface(btf: btf)
    }
    let unaligned = try #require(Self.kernel(actBits: 200))
    #expect(throws: KernelBatchInterfaceError.missingField(type: "xdp_md", field: "act")) {
      try KernelBatchInterface(btf: unaligned)
    }
  }
}
