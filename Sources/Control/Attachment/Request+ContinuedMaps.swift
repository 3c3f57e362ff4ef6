import BPF

extension XDPAttachment.Request {
  /// This request taking over the maps of the program now running on
  /// `interface` (the user's program, behind the software datapath's
  /// redirect program when one runs) that it declares alike: name, type,
  /// key and value size, entries. The counters map is not among them (it
  /// is the pinned one). Moving an interface between the kernel and the
  /// software datapath, or restarting a datapath, thus keeps the entries
  /// the user put in (a filled DEVMAP) and what the kernel counted.
  public func continuingMaps(of interface: String) -> XDPAttachment.Request {
    guard let running = try? InterfaceProgram.find(interface: interface).maps() else { return self }
    var request = self
    for (index, definition) in maps.enumerated() where index != countersMapIndex {
      let name = String(definition.name.prefix(15))
      if let match = running.first(where: {
        $0.summary.name == name && $0.summary.type == definition.type
          && $0.summary.keySize == definition.keySize
          && $0.summary.valueSize == definition.valueSize
          && $0.summary.maxEntries == definition.maxEntries
      }) {
        request.continued[index] = KernelMap(descriptor: match.descriptor, definition: definition)
      }
    }
    return request
  }
}
