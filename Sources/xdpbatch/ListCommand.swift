import ArgumentParser
import BPF
import Deployment
import Foundation
import Inspection
import Kernel

/// `xdpbatch list`: the machine's network interfaces, i40e ports first.
struct ListCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List network interfaces with driver, queues and XDP state (i40e first).")

  @Flag(help: "Print one JSON array instead of a table.")
  var json = false

  @Flag(help: "List every interface, not only i40e ports.")
  var all = false

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    let inventory: InterfaceInventory
    do {
      inventory = try InterfaceInventory.query()
    } catch {
      writeToStandardError("xdpbatch: error: \(error)")
      throw ExitCode.failure
    }
    let listing = InterfaceListing(
      inventory, includeAll: all, kernelBatch: (try? BatchKernelSupport.probe())?.interface)
    if json {
      print(try JSONCoding.document(listing.entries))
      return
    }
    for notice in listing.notices + [listing.batchNotice] { print("# \(notice)") }
    print(Self.table(listing.interfaces))
  }

  /// The interfaces as aligned columns; i40e ports carry a `*`.
  static func table(_ interfaces: [NetworkInterface]) -> String {
    let header = [
      "", "IDX", "NAME", "DRIVER", "BUS", "MAC", "MTU", "STATE", "RX/TX", "XDP", "FEATURES",
    ]
    let rows = interfaces.map { interface -> [String] in
      // Without privileges the kernel gives ids but not names: say so.
      let program = interface.program.map { program in
        "\(program.name ?? "unknown name (needs root)") (id \(program.id), \(program.mode.rawValue))"
      }
      return [
        interface.isI40e ? "*" : "",
        String(interface.index),
        interface.name,
        interface.driver?.driver ?? "-",
        interface.driver.map { $0.busInfo.isEmpty ? "-" : $0.busInfo } ?? "-",
        interface.macAddress.isEmpty ? "-" : interface.macAddress,
        String(interface.mtu),
        interface.state.rawValue,
        "\(interface.receiveQueues)/\(interface.transmitQueues)",
        program ?? "-",
        interface.xdpFeatures.map { $0.names.isEmpty ? "none" : $0.names.joined(separator: ",") }
          ?? "unknown",
      ]
    }
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
      row.enumerated().map { column, cell in
        column == row.count - 1
          ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }
}
