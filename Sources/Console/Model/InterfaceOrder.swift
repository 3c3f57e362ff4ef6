/// How the interface list is sorted; `o` cycles through them, as bpftop's
/// sort key does.
public enum InterfaceOrder: String, Hashable, Sendable, CaseIterable {
  /// As listed: i40e ports first, then by interface index.
  case listed
  /// By name.
  case name
  /// By received packets per second, busiest first.
  case receiveRate = "rx rate"
  /// By attached program (named ones first, by name), then by name.
  case program

  /// The order after this one (`o`).
  public var next: InterfaceOrder {
    let all = Self.allCases
    return all[((all.firstIndex(of: self) ?? 0) + 1) % all.count]
  }

  /// `rows` in this order; ties keep the listed order.
  public func sorted(_ rows: [InterfaceRow]) -> [InterfaceRow] {
    let indexed = Array(rows.enumerated())
    let ordered = indexed.sorted { left, right in
      let (a, b) = (left.element, right.element)
      switch self {
      case .listed:
        break
      case .name:
        if a.name != b.name { return a.name < b.name }
      case .receiveRate:
        let (rateA, rateB) = (a.receivePacketsPerSecond ?? -1, b.receivePacketsPerSecond ?? -1)
        if rateA != rateB { return rateA > rateB }
      case .program:
        let (nameA, nameB) = (a.program.map { $0.name ?? "" }, b.program.map { $0.name ?? "" })
        switch (nameA, nameB) {
        case (let x?, let y?) where x != y: return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        default: if a.name != b.name { return a.name < b.name }
        }
      }
      return left.offset < right.offset
    }
    return ordered.map(\.element)
  }
}
