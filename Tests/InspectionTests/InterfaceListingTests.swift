import BPF
import Foundation
import Inspection
import Kernel
import Testing

@testable import Deployment

/// Ordering, marking and filtering of `xdpbatch list`, on a recorded
/// machine with two i40e ports (driver names are data).
@Suite struct InterfaceListingTests {
  static func recordedMachine() throws -> InterfaceInventory {
    let url = try #require(
      Bundle.module.url(
        forResource: "i40e-machine", withExtension: "json", subdirectory: "Fixtures"))
    return try JSONDecoder().decode(InterfaceInventory.self, from: Data(contentsOf: url))
  }

  @Test func i40ePortsComeFirstInIndexOrderAndAreMarked() throws {
    let machine = try Self.recordedMachine()
    let listing = InterfaceListing(machine, includeAll: true)
    let i40eNames = machine.interfaces.filter { $0.driver?.driver == "i40e" }.map(\.name)
    #expect(i40eNames.count == 2)
    #expect(listing.interfaces.count == machine.interfaces.count)
    #expect(listing.interfaces.prefix(i40eNames.count).allSatisfy { $0.isI40e })
    #expect(!listing.interfaces.dropFirst(i40eNames.count).contains { $0.isI40e })
    let i40eIndices = listing.interfaces.prefix(i40eNames.count).map(\.index)
    #expect(i40eIndices == i40eIndices.sorted())
    let otherIndices = listing.interfaces.dropFirst(i40eNames.count).map(\.index)
    #expect(otherIndices == otherIndices.sorted())
    #expect(listing.entries.filter(\.i40e).map(\.name).sorted() == i40eNames.sorted())
    // iavf (the i40e virtual function driver) is not an i40e port.
    #expect(listing.entries.first { $0.driver == "iavf" }?.i40e == false)
    #expect(listing.notices.isEmpty)
  }

  @Test func withoutAllOnlyI40ePortsAreListed() throws {
    let machine = try Self.recordedMachine()
    let listing = InterfaceListing(machine, includeAll: false)
    #expect(!listing.interfaces.isEmpty)
    #expect(listing.interfaces.allSatisfy { $0.isI40e })
    #expect(listing.foundI40e)
  }

  @Test func withoutI40eEverythingIsListedWithANotice() throws {
    var machine = try Self.recordedMachine()
    for index in machine.interfaces.indices where machine.interfaces[index].isI40e {
      machine.interfaces[index].driver?.driver = "ice"
    }
    let listing = InterfaceListing(machine, includeAll: false)
    #expect(listing.interfaces.map(\.index) == machine.interfaces.map(\.index).sorted())
    #expect(!listing.foundI40e)
    #expect(listing.notices.contains { $0.contains("no i40e") })
  }

  @Test func jsonEntriesCarryTheContractKeys() throws {
    let machine = try Self.recordedMachine()
    let listing = InterfaceListing(machine, includeAll: true)
    let data = try JSONEncoder().encode(listing.entries)
    let array = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    #expect(array.count == listing.interfaces.count)
    for (object, interface) in zip(array, listing.interfaces) {
      #expect(object["name"] as? String == interface.name)
      #expect(object["ifindex"] as? Int == Int(interface.index))
      #expect(object["i40e"] as? Bool == interface.isI40e)
      #expect(object.keys.contains("driver"))
      let xdp = try #require(object["xdp"] as? [String: Any])
      #expect(xdp.keys.contains("program") && xdp.keys.contains("mode"))
      if let program = interface.program {
        #expect(xdp["program"] as? String == program.name)
        #expect(xdp["mode"] as? String == program.mode.rawValue)
      } else {
        #expect(xdp["program"] is NSNull)
      }
    }
  }

  /// Batch XDP in the kernel: `list` says whether the kernel runs batch
  /// programs (from its BTF, given) and on which interfaces (their drivers
  /// report `batch`).
  @Test func batchIsMarkedWhereKernelAndDriverRunBatchPrograms() throws {
    var machine = try Self.recordedMachine()
    let capable = try #require(machine.interfaces.firstIndex { $0.isI40e })
    machine.interfaces[capable].xdpFeatures = [.basic, .redirect, .batch]
    let name = machine.interfaces[capable].name

    let stock = InterfaceListing(machine, includeAll: true)
    #expect(stock.entries.allSatisfy { !$0.batch })
    #expect(stock.batchNotice.hasPrefix("kernel: no batch XDP"))

    var layout = XDPContextLayout.engine
    layout.stride = 64
    layout.redirectTarget = nil
    let patched = InterfaceListing(
      machine, includeAll: true, kernelBatch: KernelBatchInterface(layout: layout))
    #expect(patched.entries.filter(\.batch).map(\.name) == [name])
    #expect(
      patched.batchNotice
        == "kernel: runs batch XDP programs (BPF_F_XDP_BATCH, 64-byte records, act at 24) on interfaces whose features include batch"
    )
    let document = Data(try JSONCoding.document(patched.entries).utf8)
    let array = try #require(
      try JSONSerialization.jsonObject(with: document) as? [[String: Any]])
    let entry = try #require(array.first { $0["name"] as? String == name })
    #expect(entry["batch"] as? Bool == true)
    #expect((entry["xdp_features"] as? [String])?.contains("batch") == true)
  }

  @Test func missingXDPFeaturesAreReported() throws {
    var machine = try Self.recordedMachine()
    machine.reportsXDPFeatures = false
    let listing = InterfaceListing(machine, includeAll: true)
    #expect(listing.notices.contains { $0.contains("XDP features unknown") })
  }
}
