/// The kind of a BTF type (`BTF_KIND_*`, from `include/uapi/linux/btf.h`).
public enum BTFKind: UInt8, Sendable, CaseIterable {
  case integer = 1
  case pointer = 2
  case array = 3
  case structure = 4
  case union = 5
  case enumeration = 6
  case forward = 7
  case typedef = 8
  case volatile = 9
  case const = 10
  case restrict = 11
  case function = 12
  case functionPrototype = 13
  case variable = 14
  case dataSection = 15
  case float = 16
  case declarationTag = 17
  case typeTag = 18
  case enumeration64 = 19

  /// Whether the type only qualifies or renames another (`typedef`,
  /// `const`, `volatile`, `restrict`, type tags): sizes look through them.
  public var isModifierOrTypedef: Bool {
    switch self {
    case .typedef, .volatile, .const, .restrict, .typeTag: true
    default: false
    }
  }
}

/// One type of a BTF type section.
///
/// `sizeOrType` is the shared third word of `struct btf_type`: a byte size
/// for integers, structs, unions, enums, floats and data sections, and a
/// type id for everything else. The kind-specific trailing records are in
/// ``detail``.
public struct BTFType: Hashable, Sendable {
  /// The kind.
  public var kind: BTFKind
  /// The name; empty for anonymous types.
  public var name: String
  /// The `kind_flag` bit (bitfield members, forward unions, ...).
  public var kindFlag: Bool
  /// The 16-bit `vlen`: member count, or linkage for functions.
  public var vlen: Int
  /// Byte size or referenced type id, depending on ``kind``.
  public var sizeOrType: UInt32
  /// The records that follow `struct btf_type` for this kind.
  public var detail: Detail

  /// Kind-specific data that follows `struct btf_type`.
  public enum Detail: Hashable, Sendable {
    /// Nothing follows.
    case none
    /// `BTF_KIND_INT`: the encoding word (encoding, offset, bits).
    case integer(encoding: UInt32)
    /// `BTF_KIND_ARRAY`.
    case array(element: UInt32, index: UInt32, count: UInt32)
    /// `BTF_KIND_STRUCT`/`UNION`: members with their bit offsets.
    case members([Member])
    /// `BTF_KIND_ENUM`/`ENUM64`: enumerators.
    case enumerators([Enumerator])
    /// `BTF_KIND_FUNC_PROTO`: parameters (name may be empty).
    case parameters([Member])
    /// `BTF_KIND_VAR`: linkage (0 static, 1 global, 2 extern).
    case variable(linkage: UInt32)
    /// `BTF_KIND_DATASEC`: the variables placed in the section.
    case sectionVariables([SectionVariable])
    /// `BTF_KIND_DECL_TAG`: the member or parameter tagged, -1 for the type.
    case declarationTag(componentIndex: Int32)
  }

  /// A struct or union member, or a function parameter.
  public struct Member: Hashable, Sendable {
    /// The member name.
    public var name: String
    /// The member's type id.
    public var type: UInt32
    /// Bit offset (with the bitfield size in the top 8 bits when the
    /// parent's ``BTFType/kindFlag`` is set); 0 for parameters.
    public var offset: UInt32
  }

  /// One enumerator.
  public struct Enumerator: Hashable, Sendable {
    /// The enumerator name.
    public var name: String
    /// The value (64-bit for `ENUM64`, sign-extended 32-bit otherwise).
    public var value: Int64
  }

  /// One variable of a `DATASEC`: where in the ELF section it lies.
  public struct SectionVariable: Hashable, Sendable {
    /// The `VAR` (or `FUNC`) type id.
    public var type: UInt32
    /// Byte offset in the section.
    public var offset: UInt32
    /// Byte size.
    public var size: UInt32
  }

  /// The struct or union members, if any.
  public var members: [Member] {
    if case .members(let members) = detail { return members }
    return []
  }

  /// The data section's variables, if any.
  public var sectionVariables: [SectionVariable] {
    if case .sectionVariables(let variables) = detail { return variables }
    return []
  }
}
