import BPF

/// Whether the running kernel can run batch XDP programs, read from its
/// own type information: a kernel that carries a batching patch has a
/// per-buffer action field in `struct xdp_buff`; a stock kernel does not.
///
/// The rule for the field: `struct xdp_buff` has a member named `act` or
/// `action` (directly, or inside an anonymous struct or union member)
/// whose type is an integer, byte-aligned, not a bitfield. Its offset and
/// size, and the struct's size (the stride of an array of buffers), come
/// from BTF, never from constants. The kernel runs batch programs when it
/// has the whole interface of the batch patches (`kernel/patches`), which
/// ``interface`` reads: the field in the program's `struct xdp_md` too.
public struct BatchKernelSupport: Hashable, Sendable {
  /// The names a per-buffer action field may have.
  public static let actionFieldNames: Set<String> = ["act", "action"]
  /// Where the running kernel publishes its BTF.
  public static let vmlinuxPath = "/sys/kernel/btf/vmlinux"

  /// One member of `struct xdp_buff`, with anonymous members flattened.
  public struct Field: Hashable, Sendable, Codable {
    /// The member's name.
    public var name: String
    /// Offset from the start of the struct, in bits.
    public var bitOffset: UInt32
    /// Size in bytes (of the member's type; a bitfield reports its type's size).
    public var size: UInt64
    /// Width in bits for a bitfield member, `nil` otherwise.
    public var bitfieldWidth: UInt32?

    /// Offset in bytes (rounded down for bitfields).
    public var offset: UInt32 { bitOffset / 8 }
  }

  /// `sizeof(struct xdp_buff)`.
  public var bufferSize: UInt64
  /// Every named member, anonymous members flattened, in declaration order.
  public var fields: [Field]
  /// The per-buffer action field, when the kernel has one.
  public var actionField: Field?
  /// The batch program interface, when the kernel has all of it.
  public var interface: KernelBatchInterface?
  /// Why ``interface`` is `nil` (the first thing missing).
  public var interfaceError: KernelBatchInterfaceError?

  /// Whether the kernel can run batch programs: it has the whole interface.
  public var isBatchCapable: Bool { interface != nil }

  /// Reads `struct xdp_buff` from `btf`.
  public init(btf: BTF) throws(BatchProbeError) {
    guard let (_, buffer) = btf.types(named: "xdp_buff", kind: .structure).first else {
      throw .noBufferType
    }
    do {
      bufferSize = UInt64(buffer.sizeOrType)
      fields = try Self.flatten(buffer, in: btf, at: 0)
    } catch {
      throw .unreadable(path: "BTF", error)
    }
    actionField = fields.first { field in
      Self.actionFieldNames.contains(field.name) && field.bitfieldWidth == nil
        && field.bitOffset % 8 == 0 && field.size > 0
    }
    do {
      interface = try KernelBatchInterface(btf: btf)
    } catch {
      interfaceError = error
    }
  }

  /// Probes the running kernel (`btfPath`: its raw BTF blob).
  public static func probe(btfPath: String = vmlinuxPath) throws(BatchProbeError)
    -> BatchKernelSupport
  {
    let btf: BTF
    do {
      btf = try BTF(contentsOf: btfPath)
    } catch {
      throw .unreadable(path: btfPath, error)
    }
    return try BatchKernelSupport(btf: btf)
  }

  /// The named members of `type` (a struct or union) at `base` bits,
  /// descending into anonymous struct and union members.
  private static func flatten(_ type: BTFType, in btf: BTF, at base: UInt32)
    throws(BPFObjectError) -> [Field]
  {
    var fields: [Field] = []
    for member in type.members {
      let bitOffset = type.kindFlag ? member.offset & 0xff_ffff : member.offset
      let width = type.kindFlag ? member.offset >> 24 : 0
      let resolved = try btf.skippingModifiers(member.type)
      if member.name.isEmpty {
        if resolved.type.kind == .structure || resolved.type.kind == .union {
          fields += try flatten(resolved.type, in: btf, at: base + bitOffset)
        }
        continue
      }
      let isInteger = resolved.type.kind == .integer || resolved.type.kind == .enumeration
      fields.append(
        Field(
          name: member.name, bitOffset: base + bitOffset,
          size: try btf.size(of: member.type),
          bitfieldWidth: width != 0
            ? width : (isInteger ? integerBitfieldWidth(resolved.type) : nil)
        ))
    }
    return fields
  }

  /// Legacy bitfields (kind flag clear) keep their width in the integer's
  /// encoding word; a plain integer's width equals its size in bits.
  private static func integerBitfieldWidth(_ type: BTFType) -> UInt32? {
    guard case .integer(let encoding) = type.detail else { return nil }
    let bits = encoding & 0xff
    let offset = (encoding >> 16) & 0xff
    return bits == type.sizeOrType * 8 && offset == 0 ? nil : bits
  }
}

/// Why the batch-capability probe could not answer.
public enum BatchProbeError: Error, Sendable, CustomStringConvertible {
  /// The BTF could not be read or parsed.
  case unreadable(path: String, BPFObjectError)
  /// The BTF has no `struct xdp_buff`.
  case noBufferType

  /// A message naming the file and what to check.
  public var description: String {
    switch self {
    case .unreadable(let path, let error):
      "cannot read the kernel's type information (\(path)): \(error); the kernel needs CONFIG_DEBUG_INFO_BTF"
    case .noBufferType:
      "the kernel's BTF has no struct xdp_buff"
    }
  }
}

/// Why the batch form cannot run in the kernel on an interface. Nothing
/// was changed.
public enum BatchRefusal: Sendable, CustomStringConvertible {
  /// The kernel's type information could not be read.
  case undetermined(BatchProbeError)
  /// A mainline kernel: `struct xdp_buff` has no per-buffer action field.
  case noActionField(bufferSize: UInt64)
  /// A kernel with an action field but not the batch patches' interface.
  case otherInterface(field: BatchKernelSupport.Field, KernelBatchInterfaceError)
  /// The kernel runs batch programs, the interface's driver does not
  /// (no `batch` in its XDP features).
  case driver(interface: String, driver: String?)
  /// Batch programs run in native mode only.
  case mode(AttachMode)

  /// What stands in the way.
  public var description: String {
    switch self {
    case .undetermined(let error):
      "the kernel's batch capability cannot be determined: \(error)"
    case .noActionField(let size):
      "batch not available: this kernel cannot run batch XDP programs (its struct xdp_buff, \(size) bytes, has no per-buffer action field act/action). Nothing was changed."
    case .otherInterface(let field, let error):
      "batch not available: this kernel's struct xdp_buff has a per-buffer action field (\(field.name) at offset \(field.offset)), but not the batch program interface xdpbatch loads into (\(error)). Nothing was changed."
    case .driver(let interface, let driver):
      "batch not available on \(interface): this kernel runs batch XDP programs, but \(driver.map { "its driver \($0)" } ?? "its driver") does not (no batch in its XDP features). Nothing was changed."
    case .mode(let mode):
      "batch not available in \(mode.rawValue) mode: the kernel runs batch XDP programs in native mode only. Nothing was changed."
    }
  }
}
