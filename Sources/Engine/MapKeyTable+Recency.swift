/// The recency order of an LRU map's entries: a doubly linked list over
/// slots, most recent first, so that a use and the eviction of the least
/// recently used entry are O(1) (before, eviction scanned every entry's
/// use clock). A program's lookup and every update count as a use, a
/// lookup from user space does not, as in the kernel's hashtab.c.
extension MapKeyTable {
  private func previous(_ slot: Int) -> Int { Int(links[slot] & 0xffff_ffff) - 1 }
  private func next(_ slot: Int) -> Int { Int(links[slot] >> 32) - 1 }

  private func setLinks(_ slot: Int, previous: Int, next: Int) {
    links[slot] =
      UInt64(UInt32(truncatingIfNeeded: previous + 1))
      | UInt64(UInt32(truncatingIfNeeded: next + 1)) << 32
  }

  private func setPrevious(_ slot: Int, _ previous: Int) {
    setLinks(slot, previous: previous, next: next(slot))
  }

  private func setNext(_ slot: Int, _ next: Int) {
    setLinks(slot, previous: previous(slot), next: next)
  }

  private var head: Int {
    get { Int(self[Field.head]) - 1 }
    set { self[Field.head] = UInt64(newValue + 1) }
  }

  private var tail: Int {
    get { Int(self[Field.tail]) - 1 }
    set { self[Field.tail] = UInt64(newValue + 1) }
  }

  /// The least recently used slot, or nil when none is listed.
  var leastRecent: Int? { tail >= 0 ? tail : nil }

  /// Takes `slot` out of the list (it must be in it).
  func unlink(_ slot: Int) {
    let (before, after) = (previous(slot), next(slot))
    if before >= 0 { setNext(before, after) } else { head = after }
    if after >= 0 { setPrevious(after, before) } else { tail = before }
    links[slot] = 0
  }

  /// Makes `slot` the most recently used; `listed` says whether it is in
  /// the list already.
  func touch(_ slot: Int, listed: Bool) {
    if listed {
      guard head != slot else { return }
      unlink(slot)
    }
    setLinks(slot, previous: -1, next: head)
    if head >= 0 { setPrevious(head, slot) } else { tail = slot }
    head = slot
  }
}
