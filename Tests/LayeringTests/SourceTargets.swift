import Foundation
import TestSupport

/// The package's source targets as its manifest declares them, in
/// declaration order (the layers, bottom to top), with the project
/// targets each depends on, and their Swift sources.
struct SourceTargets {
  /// One target of `Sources/`.
  struct Target {
    /// Its name.
    var name: String
    /// The project targets (not C modules, not products) it depends on.
    var dependencies: [String]
    /// Its position in the manifest.
    var order: Int
    /// Its Swift files, with their text.
    var files: [(path: String, text: String)]
  }

  /// The targets, by name.
  var targets: [String: Target]
  /// Their names in declaration order.
  var order: [String]

  /// Reads `Package.swift` and `Sources/`. A target line is `.target(name:
  /// "X", dependencies: [...])` or `.executableTarget(...)`, possibly over
  /// several lines; its project dependencies are the quoted names that are
  /// themselves targets with a folder in `Sources/` holding Swift files.
  static func read(root: URL = PackageLayout.root) throws -> SourceTargets {
    let manifest = try String(
      contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    let sources = root.appendingPathComponent("Sources")
    let folders = try FileManager.default.contentsOfDirectory(atPath: sources.path)
    var swiftTargets: [String: [(path: String, text: String)]] = [:]
    for folder in folders {
      let files = swiftFiles(in: sources.appendingPathComponent(folder))
      if !files.isEmpty { swiftTargets[folder] = files }
    }
    var targets: [String: Target] = [:]
    var order: [String] = []
    for declaration in declarations(in: manifest) {
      guard let files = swiftTargets[declaration.name] else { continue }
      let dependencies = declaration.quoted.filter {
        $0 != declaration.name && swiftTargets[$0] != nil
      }
      targets[declaration.name] = Target(
        name: declaration.name, dependencies: dependencies, order: order.count, files: files)
      order.append(declaration.name)
    }
    return SourceTargets(targets: targets, order: order)
  }

  /// Each `.target(`/`.executableTarget(` call of the manifest: its name
  /// and every quoted string inside its parentheses.
  static func declarations(in manifest: String) -> [(name: String, quoted: [String])] {
    var result: [(name: String, quoted: [String])] = []
    var rest = manifest[...]
    while let start = rest.range(of: #"\.(target|executableTarget)\("#, options: .regularExpression)
    {
      var depth = 0
      var end = start.upperBound
      var index = manifest.index(before: start.upperBound)
      while index < manifest.endIndex {
        let character = manifest[index]
        if character == "(" { depth += 1 }
        if character == ")" {
          depth -= 1
          if depth == 0 {
            end = manifest.index(after: index)
            break
          }
        }
        index = manifest.index(after: index)
      }
      let call = String(manifest[start.lowerBound..<end])
      let quoted = call.matches(of: /"([^"]+)"/).map { String($0.output.1) }
      if let name = quoted.first { result.append((name, Array(quoted.dropFirst()))) }
      rest = manifest[end...]
    }
    return result
  }

  /// Every `.swift` file below `folder`, with its text, sorted by path.
  static func swiftFiles(in folder: URL) -> [(path: String, text: String)] {
    guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
    var files: [(path: String, text: String)] = []
    for case let relative as String in walker where relative.hasSuffix(".swift") {
      let path = folder.appendingPathComponent(relative).path
      if let text = try? String(contentsOfFile: path, encoding: .utf8) {
        files.append((path, text))
      }
    }
    return files.sorted { $0.path < $1.path }
  }

  /// Whether `name` is made of two words or more (`KernelMap`, `XDPLink`,
  /// `DatapathRedirect`): a capital after a lower-case letter or digit, or
  /// an upper-case run followed by a word.
  static func isCompound(_ name: String) -> Bool {
    name.contains(/[a-z0-9][A-Z]|[A-Z][A-Z][a-z]/)
  }

  /// The targets that depend on `name`, directly or through others.
  func dependents(of name: String) -> Set<String> {
    var found: Set<String> = []
    var changed = true
    while changed {
      changed = false
      for target in targets.values where !found.contains(target.name) {
        if target.dependencies.contains(where: { $0 == name || found.contains($0) }) {
          found.insert(target.name)
          changed = true
        }
      }
    }
    return found
  }

  /// The project modules a file imports (`import X`, `@testable import X`,
  /// `import struct X.Y`).
  static func imports(in text: String) -> Set<String> {
    var modules: Set<String> = []
    for line in text.split(separator: "\n") {
      let words = line.split(separator: " ").map(String.init)
      guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
        words[..<index].allSatisfy({ $0.hasPrefix("@") || $0 == "public" || $0 == "internal" })
      else { continue }
      var module = words[index + 1]
      if ["struct", "class", "enum", "protocol", "func", "typealias", "var", "let"].contains(
        module),
        index + 2 < words.count
      {
        module = words[index + 2]
      }
      modules.insert(String(module.split(separator: ".").first ?? ""))
    }
    return modules
  }

  /// The names of the public types a target declares at top level
  /// (`public struct X`, `public final class X`, `public enum X`,
  /// `public protocol X`, `public typealias X`, `public actor X`): its
  /// vocabulary. Names of one word (`Key`, `Demo`, `Theme`) are left out:
  /// they are also plain English in any comment; every name of two words
  /// or more (`DatapathRedirect`, `AttachmentRecord`) counts.
  func vocabulary(of name: String) -> Set<String> {
    var names: Set<String> = []
    let pattern =
      /^public (?:final )?(?:struct|class|enum|protocol|typealias|actor) ([A-Za-z_][A-Za-z0-9_]*)/
    for file in targets[name]?.files ?? [] {
      for line in file.text.split(separator: "\n") {
        if let match = try? pattern.prefixMatch(in: line), Self.isCompound(String(match.output.1)) {
          names.insert(String(match.output.1))
        }
      }
    }
    return names
  }
}
