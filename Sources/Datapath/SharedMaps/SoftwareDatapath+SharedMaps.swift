import Kernel

extension SoftwareDatapath {
  /// The kernel's map `name` of the user's program (the fallback's: the
  /// one the engines share, or beside which they keep their own), nil
  /// when the program has none of that name.
  public func kernelMap(named name: String) -> KernelMap? {
    sharedMaps.maps.first { $0.name == name }?.kernel
  }
}
