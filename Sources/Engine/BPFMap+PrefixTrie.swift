import BPF

/// An LPM_TRIE's entries (``PrefixTrie``) with their values in the
/// machine's address space: slots handed out as entries are added, as a
/// hash map's are, so a program's lookup returns a pointer it can read
/// and write (a per-prefix counter), like the kernel's.
extension BPFMap {
  /// `trie_update_elem`'s slot for `key`: the slot (made reachable), or
  /// a negative errno.
  func placeInTrie(_ key: [UInt8], command: UInt64) throws(AddressSpaceError) -> Int {
    let capacity = Int(definition.maxEntries)
    guard let placement = trie?.place(key, command: command, capacity: capacity) else {
      return Int(-Errno.invalid)
    }
    switch placement {
    case .refused(let code):
      return Int(code)
    case .slot(let slot, let isNew):
      guard isNew else { return slot }
      do throws(AddressSpaceError) {
        try makeReachable(slots: slot + 1)
        do {
          try space.budget.charge(Self.bookkeepingPerSlot, for: "map \(definition.name)")
        } catch {
          throw AddressSpaceError.budget(error)
        }
        bookkeepingCharged += Self.bookkeepingPerSlot
      } catch {
        trie?.abandon(slot: slot)
        throw error
      }
      return slot
    }
  }

  /// `trie_delete_elem`: 0 or a negative errno; the freed value is zeroed.
  func deleteFromTrie(_ key: [UInt8]) -> Int32 {
    switch trie?.delete(key) {
    case .success(let slot):
      space.write(
        Array(repeating: 0, count: stride * processors), at: valueAddress(slot: slot, processor: 0))
      return 0
    case .failure(let errno):
      return -errno
    case nil:
      return -Errno.invalid
    }
  }

  /// For an LPM_TRIE, `get_next_key`: the key after `key` in the kernel's
  /// order (more specific prefixes first), the first key when `key` is
  /// nil or names no entry, nil after the last. Nil for other maps.
  public func nextTrieKey(after key: [UInt8]?) -> [UInt8]? {
    guard let trie else { return nil }
    return trie.nextKey(after: key?.count == Int(definition.keySize) ? key : nil)
  }
}
