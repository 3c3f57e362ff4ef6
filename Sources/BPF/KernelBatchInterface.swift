/// How a kernel that runs batch XDP programs (the patch series in
/// `kernel/patches`) wants them, read from that kernel's own BTF
/// (`/sys/kernel/btf/vmlinux`), never from constants:
///
/// - the records are `struct xdp_buff`, consecutive, so the stride is that
///   struct's size;
/// - the program sees each record as a `struct xdp_md`, whose offsets, the
///   per-record verdict field `act` included, are where its field accesses
///   go (the verifier converts them as for one context);
/// - `bpf_xdp_batch_commit`, the kernel function a program calls to keep a
///   record's redirect target, is named by its BTF id.
///
/// The calling convention (R1 the first record, R2 the end of the records)
/// and the load flag are the patch series' UAPI: ``loadFlag``.
public struct KernelBatchInterface: Hashable, Sendable {
  /// `BPF_F_XDP_BATCH`: the `BPF_PROG_LOAD` flag that makes an XDP
  /// program a batch program.
  public static let loadFlag: UInt32 = 1 << 8
  /// `NETDEV_XDP_ACT_BATCH`: the xdp-features bit of a driver that runs
  /// batch programs.
  public static let featureBit: UInt64 = 1 << 7
  /// The kernel function that keeps a record's redirect target.
  public static let commitFunctionName = "bpf_xdp_batch_commit"

  /// Where the program finds a record's fields, and the distance from one
  /// record to the next. ``XDPContextLayout/redirectTarget`` is `nil`: the
  /// kernel keeps redirect targets out of the records.
  public var layout: XDPContextLayout
  /// The BTF id of ``commitFunctionName``, if the kernel has it.
  public var commitFunction: Int32?

  /// An interface with this record layout and commit function.
  public init(layout: XDPContextLayout, commitFunction: Int32? = nil) {
    self.layout = layout
    self.commitFunction = commitFunction
  }

  /// Reads the interface from a kernel's BTF; throws if that kernel cannot
  /// run batch programs, saying why.
  public init(btf: BTF) throws(KernelBatchInterfaceError) {
    let view = try Self.structure("xdp_md", in: btf)
    let record = try Self.structure("xdp_buff", in: btf)
    guard record.fields["act"] != nil else { throw .noActionField(bufferSize: record.size) }
    func offset(_ name: String) throws(KernelBatchInterfaceError) -> Int16 {
      guard let bits = view.fields[name], bits % 32 == 0, let bytes = Int16(exactly: bits / 8)
      else { throw .missingField(type: "xdp_md", field: name) }
      return bytes
    }
    guard let stride = Int32(exactly: record.size), stride > 0 else {
      throw .missingField(type: "xdp_buff", field: "size")
    }
    layout = XDPContextLayout(
      data: try offset("data"), dataEnd: try offset("data_end"),
      dataMeta: try offset("data_meta"), ingressInterfaceIndex: try offset("ingress_ifindex"),
      receiveQueueIndex: try offset("rx_queue_index"),
      egressInterfaceIndex: try offset("egress_ifindex"), action: try offset("act"),
      redirectTarget: nil, stride: stride)
    commitFunction = btf.types(named: Self.commitFunctionName, kind: .function).first
      .flatMap { Int32(exactly: $0.id) }
  }

  /// A struct's size and its members' bit offsets by name.
  private static func structure(_ name: String, in btf: BTF)
    throws(KernelBatchInterfaceError) -> (size: UInt32, fields: [String: UInt32])
  {
    guard let (_, type) = btf.types(named: name, kind: .structure).first else {
      throw .missingType(name)
    }
    var fields: [String: UInt32] = [:]
    for member in type.members where !member.name.isEmpty {
      fields[member.name] = type.kindFlag ? member.offset & 0xff_ffff : member.offset
    }
    return (type.sizeOrType, fields)
  }
}

/// Why a kernel's BTF describes no batch program interface.
public enum KernelBatchInterfaceError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The BTF lacks a type the interface needs.
  case missingType(String)
  /// A struct lacks a field the interface needs, or has it where no
  /// 32-bit field can be.
  case missingField(type: String, field: String)
  /// `struct xdp_buff` has no `act`: a kernel without the batch patches.
  case noActionField(bufferSize: UInt32)

  /// A message that says what the kernel lacks.
  public var description: String {
    switch self {
    case .missingType(let name): "the kernel's BTF has no struct \(name)"
    case .missingField(let type, let field):
      "the kernel's struct \(type) has no usable \(field) field"
    case .noActionField(let size):
      "this kernel cannot run batch XDP programs: its struct xdp_buff (\(size) bytes) has no act field"
    }
  }
}
