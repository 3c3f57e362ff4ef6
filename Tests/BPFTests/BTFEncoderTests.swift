import Foundation
import TestSupport
import Testing

@testable import BPF

/// `BTFEncoder` writes what `BTF` reads: every sample's types survive a
/// round trip, and the map BTF that `ObjectWriter` writes declares the maps
/// it was built from.
@Suite struct BTFEncoderTests {
  /// Every sample is compiled with `-g`, so every one carries BTF.
  @Test func sampleTypesRoundTrip() throws {
    #expect(!ObjectFixtures.samplePaths.isEmpty)
    for path in ObjectFixtures.samplePaths {
      let name = URL(fileURLWithPath: path).lastPathComponent
      let btf = try #require(try BPFObject(contentsOf: path).btf, "\(name) has no BTF")
      let bytes = BTFEncoder(types: btf.types).bytes()
      let reread = try BTF(ByteView(bytes: bytes, file: name))
      #expect(reread.types == btf.types, "\(name)")
    }
  }

  @Test func kernelBTFHasAFunctionRecordPerFunction() throws {
    let object = try BPFObject(
      contentsOf: PackageLayout.samplesDirectory.appendingPathComponent("xdp_calls.o").path)
    for program in try object.programs() {
      let btf = try #require(object.btf)
      let kernel = try #require(KernelBTF(btf: btf, program: program))
      #expect(
        kernel.functions.map(\.instruction) == [0] + program.subprograms.map(\.start).sorted())
      let reread = try BTF(ByteView(bytes: kernel.bytes, file: "kernel"))
      #expect(reread.types.filter { $0.kind == .dataSection }.allSatisfy { $0.sizeOrType > 0 })
      let names = try kernel.functions.map { try reread.type($0.typeID).name }
      #expect(
        names == [program.name] + program.subprograms.sorted { $0.start < $1.start }.map(\.name))
    }
  }
}
