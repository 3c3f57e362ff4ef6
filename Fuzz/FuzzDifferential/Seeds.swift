import BPF
import Differential
import Engine
import Glibc

/// `--seeds`: the fuzzer's starting inputs.
enum SeedWriter {
  /// Writes one seed per bpf_conformance vector (every `.data` file under
  /// the directories given), per raw program file given (a sample's XDP
  /// section), and 64 seeded choice streams of each flavor, into `output`.
  static func write(inputs: [String], to output: String) -> CInt {
    var written = 0
    var failed = 0
    func save(_ name: String, _ bytes: [UInt8]) {
      let path = "\(output)/\(name)"
      guard let file = fopen(path, "wb") else {
        Swift.print("cannot write \(path)")
        failed += 1
        return
      }
      fwrite(bytes, 1, bytes.count, file)
      fclose(file)
      written += 1
    }
    for input in inputs {
      if let names = directoryEntries(input) {
        for name in names where name.hasSuffix(".data") {
          guard let text = readText("\(input)/\(name)") else { continue }
          do {
            let vector = try ConformanceVector(name: name, text: text)
            save("conformance-\(name.dropLast(5))", vector.seed)
          } catch {
            Swift.print("skipped \(error)")
            failed += 1
          }
        }
      } else if let bytes = readBytes(input) {
        let instructions = (try? Instruction.decode(littleEndian: bytes.prefix(bytes.count & ~7))) ?? []
        let name = input.split(separator: "/").last.map(String.init) ?? "program"
        save("sample-\(name)", FuzzInput.instructionsSeed(instructions, memory: []))
      }
    }
    for seed in 0..<UInt64(64) {
      for flavor in CaseGenerator.Flavor.allCases {
        let choices = (0..<512).map { _ in UInt8(0) }
        var stream = ChoiceStream(seed: seed)
        let bytes = choices.map { _ in stream.byte() }
        save("generated-\(flavor.rawValue)-\(seed)", FuzzInput.generatedSeed(bytes, flavor: flavor))
      }
    }
    Swift.print("seeds: \(written) written, \(failed) skipped")
    return 0
  }

  static func directoryEntries(_ path: String) -> [String]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  static func readBytes(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = fread(&buffer, 1, buffer.count, file)
      if count <= 0 { break }
      bytes += buffer[0..<count]
    }
    return bytes
  }

  static func readText(_ path: String) -> String? {
    readBytes(path).map { String(decoding: $0, as: UTF8.self) }
  }
}

/// `--conformance DIR`: bpf_conformance's vectors in both engines.
enum ConformanceReport {
  static func run(directory: String) -> CInt {
    guard let names = SeedWriter.directoryEntries(directory) else {
      Swift.print("\(directory): not a directory")
      return 1
    }
    var passed = 0
    var failures: [String] = []
    for name in names where name.hasSuffix(".data") {
      guard let text = SeedWriter.readText("\(directory)/\(name)") else { continue }
      let vector: ConformanceVector
      do {
        vector = try ConformanceVector(name: name, text: text)
      } catch {
        failures.append("\(name): \(error)")
        continue
      }
      var agree = true
      for engine in EngineKind.allCases {
        let result = Result { () throws(ConformanceError) in
          try ConformanceRun.execute(vector.instructions, memory: vector.memory, engine: engine)
        }
        switch (result, vector.result, vector.error) {
        case (.success(let value), let expected?, nil) where value == expected: break
        case (.failure, _, _?): break
        default:
          agree = false
          failures.append("\(name) (\(engine)): got \(result), expected \(vector.result.map { String($0, radix: 16) } ?? vector.error ?? "?")")
        }
      }
      if agree { passed += 1 }
    }
    Swift.print("bpf_conformance: \(passed) vectors pass in both engines, \(failures.count) failures")
    for failure in failures { Swift.print("  \(failure)") }
    return failures.isEmpty ? 0 : 1
  }
}
