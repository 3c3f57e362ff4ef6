import Foundation
import TestSupport
import Testing

/// The layering docs/DESIGN.md describes: each target imports only
/// targets declared before it in `Package.swift` (the layers, bottom to
/// top) and listed among its dependencies, and no target names the
/// vocabulary of a target above it (one that depends on it). The compiler
/// enforces neither fully: a module of a dependency's dependency can be
/// imported without being declared, and a name in a comment or a string
/// is never checked.
@Suite struct LayeringTests {
  let package: SourceTargets

  init() throws {
    package = try SourceTargets.read()
  }

  /// The layers the manifest must have: Control is gone, the kernel seam,
  /// inspection, deployment and the lab are targets of their own.
  @Test func manifestHasTheLayers() {
    for name in [
      "BPF", "Rewriter", "Engine", "Check", "Kernel", "Inspection", "Datapath", "Deployment", "Lab",
      "Console", "LiveConsole", "Exporter", "xdpbatch",
    ] {
      #expect(package.targets[name] != nil, "no target \(name) in Package.swift with sources")
    }
    #expect(
      package.targets["Control"] == nil, "Control is split into Kernel, Inspection, Deployment, Lab"
    )
    #expect(package.targets["Bench"] == nil, "the bench fixtures live in Lab")
    #expect(package.order.count >= 13, "found \(package.order)")
  }

  /// Every dependency of a target is declared before it.
  @Test func dependenciesPointDown() {
    for target in package.targets.values {
      for dependency in target.dependencies {
        let order = package.targets[dependency]?.order ?? .max
        #expect(
          order < target.order,
          "\(target.name) depends on \(dependency), which the manifest declares above it")
      }
    }
  }

  /// Every file imports only the project targets its target depends on.
  @Test func importsAreDeclaredDependencies() {
    let projectTargets = Set(package.targets.keys)
    var checked = 0
    for target in package.targets.values {
      for file in target.files {
        for module in SourceTargets.imports(in: file.text) where projectTargets.contains(module) {
          checked += 1
          #expect(
            module == target.name || target.dependencies.contains(module),
            "\(file.path) imports \(module), which \(target.name) does not depend on (its layers: \(target.dependencies))"
          )
        }
      }
    }
    #expect(checked > 100, "only \(checked) project imports found: the sources were not read")
  }

  /// No file names a type of a target above its own (in code or comments):
  /// a lower layer carries none of a higher one's vocabulary.
  @Test func noVocabularyFromAbove() {
    var words = 0
    for target in package.targets.values {
      let own = package.vocabulary(of: target.name)
      var foreign: [String: String] = [:]
      for above in package.dependents(of: target.name) {
        for name in package.vocabulary(of: above) where !own.contains(name) {
          foreign[name] = above
        }
      }
      words += foreign.count
      for file in target.files {
        for word in Self.identifiers(in: file.text) {
          if let owner = foreign[word] {
            Issue.record(
              "\(file.path) names \(word), the vocabulary of \(owner), which is above \(target.name)"
            )
          }
        }
      }
    }
    #expect(words > 100, "only \(words) names above the lower layers: the vocabulary was not read")
  }

  /// A lower layer that named a type of a higher one is caught (the check
  /// itself can fail).
  @Test func aNameFromAboveIsCaught() {
    let kernelFile = "/// Steered by ``DatapathDeployment``.\nstruct X {}"
    #expect(Self.identifiers(in: kernelFile).contains("DatapathDeployment"))
    #expect(
      SourceTargets.imports(
        in: "import BPF\n@testable import Control\nimport struct Kernel.KernelMap")
        == ["BPF", "Control", "Kernel"])
    #expect(SourceTargets.isCompound("DatapathRedirect") && SourceTargets.isCompound("XDPLink"))
    #expect(!SourceTargets.isCompound("Demo") && !SourceTargets.isCompound("Key"))
  }

  /// The identifiers of a text: runs of letters, digits and underscores
  /// starting with a letter.
  static func identifiers(in text: String) -> Set<String> {
    Set(text.matches(of: /[A-Za-z_][A-Za-z0-9_]*/).map { String($0.output) })
  }
}
