import Kernel

extension NetworkNamespace {
  /// Creates the namespace (`ip netns add`) and brings its loopback up.
  public static func create(_ name: String) throws(PlumbingError) -> NetworkNamespace {
    try IPCommand.run(["netns", "add", name])
    let namespace = NetworkNamespace(name: name)
    do {
      try IPCommand.run(["-n", name, "link", "set", "lo", "up"])
    } catch {
      namespace.delete()
      throw error
    }
    return namespace
  }

  /// Deletes the namespace (and with it every interface inside); quiet
  /// when it is already gone.
  public func delete() {
    try? IPCommand.run(["netns", "delete", name])
  }

  /// Moves the calling thread into the namespace (see
  /// ``enterOnCurrentThread()``), failing as plumbing.
  public func enter() throws(PlumbingError) {
    do {
      try enterOnCurrentThread()
    } catch {
      throw .enter(namespace: name, error)
    }
  }
}
