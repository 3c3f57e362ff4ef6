import CBPF
import Glibc

/// C structs handed to libbpf or the kernel by pointer live in storage
/// that is zero byte for byte, padding included: the one way the kernel
/// seam makes them.
///
/// `var options = bpf_xdp_query_opts()` zeroes the fields but not the
/// bytes between and after them; what they hold is whatever the stack
/// held. libbpf refuses an options struct whose bytes past its last field
/// are not zero (`bpf_xdp_query_opts has non-zero extra bytes`, `EINVAL`),
/// and the kernel reads the tail of `bpf_*_info` and `bpf_attr` the same
/// way. A debug build happens to find zeros there; a release build does
/// not. Fields set through the pointer (`pointer.pointee.field = x`)
/// store only themselves, so the bytes no field covers stay zero.
enum ZeroedStorage {
  /// Calls `body` with storage for one `T`, every byte of it zero.
  @discardableResult
  static func with<T, Result, Failure: Error>(
    _ type: T.Type, _ body: (UnsafeMutablePointer<T>) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
    defer { raw.deallocate() }
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.stride)
    return try body(raw.bindMemory(to: T.self, capacity: 1))
  }

  /// Zeroed storage for `count` values of `T` that outlives a call (a
  /// sender's `struct mmsghdr`s); the caller deallocates it.
  static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutableBufferPointer<T> {
    let bytes = MemoryLayout<T>.stride * max(count, 1)
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: bytes, alignment: MemoryLayout<T>.alignment)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    return UnsafeMutableBufferPointer(
      start: raw.bindMemory(to: T.self, capacity: count), count: count)
  }

  /// libbpf's `LIBBPF_OPTS(T, name)`: zeroed storage for an options
  /// struct with its `sz` set, for `body` to fill and hand to libbpf.
  @discardableResult
  static func options<T: LibbpfOptions, Result, Failure: Error>(
    _ type: T.Type, _ body: (UnsafeMutablePointer<T>) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    try with(type) { (options) throws(Failure) -> Result in
      options.pointee.sz = MemoryLayout<T>.size
      return try body(options)
    }
  }
}

/// A libbpf options struct (`struct bpf_*_opts`): `sz` tells libbpf how
/// many of its bytes the caller knows (``ZeroedStorage/options(_:_:)``).
protocol LibbpfOptions {
  /// The struct's size as the caller was compiled with it.
  var sz: Int { get set }
}

extension bpf_btf_load_opts: LibbpfOptions {}
extension bpf_link_create_opts: LibbpfOptions {}
extension bpf_link_update_opts: LibbpfOptions {}
extension bpf_map_batch_opts: LibbpfOptions {}
extension bpf_map_create_opts: LibbpfOptions {}
extension bpf_prog_load_opts: LibbpfOptions {}
extension bpf_test_run_opts: LibbpfOptions {}
extension bpf_xdp_attach_opts: LibbpfOptions {}
extension bpf_xdp_query_opts: LibbpfOptions {}

/// `BPF_OBJ_GET_INFO_BY_FD` into zeroed storage: the kernel copies in
/// the caller's struct, reads the fields that ask it for arrays
/// (`map_ids`, `xlated_prog_insns`, …) and refuses a tail it does not
/// know that is not zero.
enum ObjectInfo {
  /// The kernel's `T` (`bpf_prog_info`, `bpf_map_info`, `bpf_link_info`)
  /// for `descriptor`; `request` sets the fields that ask for arrays
  /// before the call.
  static func read<T>(
    _ type: T.Type, of descriptor: KernelDescriptor, _ operation: @autoclosure () -> String,
    request: (UnsafeMutablePointer<T>) -> Void = { _ in }
  ) throws(SystemCallError) -> T {
    try ZeroedStorage.with(type) { (info) throws(SystemCallError) -> T in
      request(info)
      var length = UInt32(MemoryLayout<T>.size)
      try check(operation()) { bpf_obj_get_info_by_fd(descriptor.rawValue, info, &length) }
      return info.pointee
    }
  }
}
