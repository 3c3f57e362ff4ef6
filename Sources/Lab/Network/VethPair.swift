import Kernel

/// A veth pair: one end in the host namespace (where xdpbatch attaches),
/// its peer in a namespace of its own (where the traffic generator sends
/// from), each with an IPv4 address from the benchmarking range
/// 198.18.0.0/15 (RFC 2544).
public struct VethPair: Hashable, Sendable {
  /// The host-side end.
  public var name: String
  /// The far end.
  public var peer: String
  /// The namespace holding ``peer``.
  public var namespace: NetworkNamespace
  /// The host side's address with prefix (`198.18.0.1/30`).
  public var address: String
  /// The peer's address with prefix (`198.18.0.2/30`).
  public var peerAddress: String

  /// Describes a pair.
  public init(
    name: String, peer: String, namespace: NetworkNamespace, address: String = "198.18.0.1/30",
    peerAddress: String = "198.18.0.2/30"
  ) {
    self.name = name
    self.peer = peer
    self.namespace = namespace
    self.address = address
    self.peerAddress = peerAddress
  }

  /// Creates the pair, moves the peer into ``namespace`` (which must
  /// exist), addresses both ends and brings them up. Nothing is left
  /// behind if a step fails.
  public func create() throws(PlumbingError) {
    guard Self.isBenchmarkingAddress(address), Self.isBenchmarkingAddress(peerAddress) else {
      throw .command(
        arguments: ["addr", "add", address], message: "addresses must be inside 198.18.0.0/15")
    }
    try IPCommand.run([
      "link", "add", name, "type", "veth", "peer", "name", peer, "netns", namespace.name,
    ])
    do {
      // No IPv6 link-local address: the ends then send no neighbour
      // discovery or MLD of their own, and counters see only the frames
      // the generator sends.
      try IPCommand.run(["link", "set", name, "addrgenmode", "none"])
      try IPCommand.run(["-n", namespace.name, "link", "set", peer, "addrgenmode", "none"])
      try IPCommand.run(["addr", "add", address, "dev", name])
      try IPCommand.run(["link", "set", name, "up"])
      try IPCommand.run(["-n", namespace.name, "addr", "add", peerAddress, "dev", peer])
      try IPCommand.run(["-n", namespace.name, "link", "set", peer, "up"])
    } catch {
      delete()
      throw error
    }
  }

  /// Deletes the pair (both ends go together); quiet when already gone.
  public func delete() {
    try? IPCommand.run(["link", "delete", name])
  }

  /// Whether `address` (`a.b.c.d/len`) lies in 198.18.0.0/15.
  static func isBenchmarkingAddress(_ address: String) -> Bool {
    let octets = address.split(separator: "/").first?.split(separator: ".").compactMap { UInt8($0) }
    guard let octets, octets.count == 4 else { return false }
    return octets[0] == 198 && (octets[1] == 18 || octets[1] == 19)
  }
}
