/// libFuzzer's entry: runs the fuzzing loop (or the inputs named on the
/// command line) and calls the target once per input.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target of the running fuzzer (one per process).
nonisolated(unsafe) private var currentTarget: ([UInt8]) -> Void = { _ in }

/// Hands the process to libFuzzer with `target` as the function under
/// test; returns libFuzzer's exit status. A harness's `main` calls this.
///
/// The harnesses are built only by `make fuzz` (`XDPBATCH_FUZZ=1`, with
/// `-sanitize=fuzzer,address`), never by the ordinary build.
public func runLibFuzzer(
  argc: CInt, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
  _ target: @escaping ([UInt8]) -> Void
) -> CInt {
  currentTarget = target
  var count = argc
  var arguments = argv
  return runDriver(&count, &arguments) { data, size in
    currentTarget(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
  }
}
