import Foundation

/// Where the package's own files are, for tests that read the bundled
/// samples or run the built executable: found from this file's path.
public enum PackageLayout {
  /// The package root.
  public static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // TestSupport
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

  /// `build/samples`, where `make samples` puts the compiled samples.
  public static let samplesDirectory = root.appendingPathComponent("build/samples")

  /// Every compiled sample object, sorted by name; empty before `make samples`.
  public static let sampleObjects: [URL] = {
    let names =
      (try? FileManager.default.contentsOfDirectory(atPath: samplesDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".o") }.sorted().map {
      samplesDirectory.appendingPathComponent($0)
    }
  }()

  /// The path of the compiled sample `name` (without `.o`).
  public static func sample(_ name: String) -> String {
    samplesDirectory.appendingPathComponent("\(name).o").path
  }

  /// Why sample tests are skipped when there are none.
  public static let samplesMissing = "no sample objects in build/samples (run `make samples`)"

  /// `build/corpus`, where `make corpus` puts the rewriter's test corpus
  /// (Corpus/*.bpf.c).
  public static let corpusDirectory = root.appendingPathComponent("build/corpus")

  /// Every compiled corpus object, sorted by name; empty before `make corpus`.
  public static let corpusObjects: [URL] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: corpusDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".o") }.sorted().map {
      corpusDirectory.appendingPathComponent($0)
    }
  }()

  /// The path of the compiled corpus object `name` (without `.o`).
  public static func corpus(_ name: String) -> String {
    corpusDirectory.appendingPathComponent("\(name).o").path
  }

  /// Why corpus tests are skipped when there is none.
  public static let corpusMissing = "no corpus objects in build/corpus (run `make corpus`)"
}
