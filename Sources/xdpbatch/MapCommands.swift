import ArgumentParser
import BPF
import Datapath
import Deployment
import Foundation
import Inspection
import Kernel

/// `xdpbatch maps IFACE`: the maps of the XDP program on an interface,
/// whoever attached it; on the software datapath, of the user's program
/// its redirect program falls back to.
struct MapsCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "maps",
    abstract: "List the maps of the XDP program on an interface (any program, any loader).")

  @Argument(help: "The network interface.")
  var interface: String

  @Flag(help: "Print one JSON document.")
  var json = false

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    let deployed = try DeployedProgram.on(interface)
    let program = deployed.program
    let maps = try program.maps().map(\.info)
    if json {
      print(
        try JSONCoding.document(
          MapsReport(
            interface: interface, programID: program.programID, program: program.program.name,
            redirectProgramID: deployed.redirect?.redirectID, maps: maps)))
      return
    }
    print(
      "\(interface): program \(program.program.name) (id \(program.programID))"
        + (deployed.redirect.map { Self.datapathNote($0) } ?? ""))
    let header = ["ID", "NAME", "TYPE", "KEY", "VALUE", "ENTRIES", "FLAGS", "BTF"]
    let rows = maps.map { map in
      [
        String(map.id), map.name, map.type.description, String(map.keySize),
        String(map.valueSize), String(map.maxEntries), "0x" + String(map.flags, radix: 16),
        map.btfID == 0 ? "-" : String(map.btfID),
      ]
    }
    print(InspectionTable.render([header] + rows))
  }

  /// What `maps`, `map dump` and `prog` add on the software datapath.
  static func datapathNote(_ redirect: DatapathRedirect) -> String {
    ", run by the software datapath (attached: \(RedirectProgram.name) id \(redirect.redirectID), which falls back to it)"
  }
}

/// `maps --json`.
struct MapsReport: Encodable {
  var interface: String
  var programID: UInt32
  var program: String
  /// The software datapath's redirect program, when it is what is attached.
  var redirectProgramID: UInt32?
  var maps: [MapInfo]
}

/// `xdpbatch map dump|update|delete`: one map's entries, typed by BTF.
struct MapCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "map",
    abstract: "Show or change the entries of a map of the XDP program on an interface.",
    discussion: """
      Keys and values are written as `map dump` prints them: integers (decimal or 0x…),
      enumerator names, "strings" for char arrays, [a, b] for arrays, {member: value, …}
      for structs (members left out are zero), or hex:BYTES (memory order) for anything.
      Without BTF, values are hex:BYTES, or an integer for 1-, 2-, 4- and 8-byte values.
      """,
    subcommands: [MapDumpCommand.self, MapUpdateCommand.self, MapDeleteCommand.self])
}

/// The map the `map` subcommands work on: a map of the XDP program on
/// an interface, by name.
struct MapOperand: ParsableArguments {
  @Argument(help: "The network interface.")
  var interface: String

  @Argument(help: "The map's name (see `xdpbatch maps`).")
  var name: String

  /// The map, with its BTF.
  func open() throws -> TypedMap { try DeployedProgram.on(interface).typedMap(named: name) }

  /// Changes the map with `change`. On the software datapath, a map its
  /// engines keep their own copy of (a PROG_ARRAY: `engine-own`) does not
  /// follow the change: that is said on standard error first (issue 24:
  /// an update succeeded silently).
  func change(_ verb: String, _ change: (TypedMap) throws -> Void) throws {
    let deployed = try DeployedProgram.on(interface)
    let map = try deployed.typedMap(named: name)
    let info = map.map.info
    if let sharing = deployed.datapathSharing(of: info), !sharing.isShared {
      writeToStandardError(
        "xdpbatch: warning: map \(verb) on \(interface): the software datapath keeps its own copy of \(info.name) (\(info.type)) and does not follow the kernel's map; only the kernel fallback sees this change"
      )
    }
    try change(map)
  }
}

/// `xdpbatch map dump IFACE NAME`.
struct MapDumpCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "dump", abstract: "Print a map's entries, formatted from its BTF (hex without).")

  @OptionGroup var map: MapOperand

  @Flag(help: "Print one JSON document.")
  var json = false

  @Flag(help: "Leave out entries whose value is all zero bytes.")
  var nonzero = false

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    let deployed = try DeployedProgram.on(map.interface)
    let contents = try deployed.typedMap(named: map.name)
    var entries = try contents.entries()
    if nonzero { entries = entries.filter { !$0.isZero } }
    // Only where the engines keep a copy of their own is there anything to say.
    let copy = deployed.datapathSharing(of: contents.map.info).flatMap {
      $0.isShared ? nil : $0
    }
    if json {
      print(
        try JSONCoding.document(
          MapDumpReport(
            interface: map.interface, map: contents.map.info, types: contents.types.source,
            datapathCopy: copy, entries: entries)))
      return
    }
    let summary = contents.map.info
    print(
      "\(summary.name) (id \(summary.id), \(summary.type), \(entries.count) entries, types: \(contents.types.source.rawValue))"
    )
    if let copy { print(Self.note(copy)) }
    for entry in entries {
      if let perCPU = entry.perCPU, let sum = entry.sum {
        let cpus = perCPU.enumerated().map { "cpu\($0.offset) \($0.element)" }
        print("key \(entry.key)  sum \(sum)  " + cpus.joined(separator: "  "))
      } else if let value = entry.value {
        print("key \(entry.key)  value \(value)")
      }
    }
  }
}

/// `map dump --json`.
struct MapDumpReport: Encodable {
  var interface: String
  var map: MapInfo
  var types: MapTypes.Source
  /// On the software datapath, for a map its engines do not share with
  /// the kernel (a program array): `engine-own` (docs/DESIGN.md, "Maps on
  /// the software datapath"). Absent for every shared map.
  var datapathCopy: MapSharing?
  var entries: [MapEntry]
}

extension MapDumpCommand {
  /// The line `map dump` prints under its header for a map the software
  /// datapath's engines do not share with the kernel.
  static func note(_ copy: MapSharing) -> String {
    "(the software datapath's engines keep their own copy of this map: these entries are the kernel fallback's)"
  }
}

/// `xdpbatch map update IFACE NAME KEY VALUE`.
struct MapUpdateCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "update",
    abstract: "Set a map entry (per-CPU maps: one value per CPU, or --all-cpus VALUE).")

  @OptionGroup var map: MapOperand

  @Argument(help: "The key, as `map dump` prints keys (or hex:BYTES).")
  var key: String

  @Argument(
    help:
      "The value, as `map dump` prints values (or hex:BYTES); for a per-CPU map one value per CPU, in CPU order (as bpftool)."
  )
  var values: [String] = []

  @Option(
    name: .customLong("all-cpus"),
    help: ArgumentHelp("The same value on every CPU of a per-CPU map.", valueName: "value"))
  var allCPUs: String?

  @OptionGroup var messages: LibraryMessageOptions

  func validate() throws {
    if allCPUs != nil && !values.isEmpty {
      throw ValidationError("give the values, or --all-cpus VALUE, not both")
    }
    if allCPUs == nil && values.isEmpty { throw ValidationError("missing the value") }
  }

  func run() throws {
    if let allCPUs {
      try map.change("update") { try $0.update(key: key, values: [allCPUs], allCPUs: true) }
    } else {
      try map.change("update") { try $0.update(key: key, values: values) }
    }
  }
}

/// `xdpbatch map delete IFACE NAME KEY`.
struct MapDeleteCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "delete", abstract: "Remove a map entry (hash-like maps, DEVMAPs).")

  @OptionGroup var map: MapOperand

  @Argument(help: "The key, as `map dump` prints keys (or hex:BYTES).")
  var key: String

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    try map.change("delete") { try $0.delete(key: key) }
  }
}

/// Left-aligned columns, two spaces apart.
enum InspectionTable {
  static func render(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = first.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { index, cell in
        index == row.count - 1
          ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }
}
