import BPF
import Check
import Engine
import FuzzSupport

/// Fuzzes the object reader and what `xdpbatch check` does with what it
/// reads: any bytes as an ELF object, then every XDP program linked, its
/// maps built (a map declaring 67 M entries included) and the program
/// checked per packet against its batch forms over a few packets. A crash,
/// an ASan report, a leak or a hang is a finding; errors are not.
@_cdecl("FuzzObject_main")
func fuzzObjectMain(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
  MemoryBudget.shared.limit = 1 << 30
  return runLibFuzzer(argc: argc, argv: argv) { bytes in
    guard let object = try? BPFObject(bytes: bytes, name: "fuzz.o"),
      let programs = try? object.programs()
    else { return }
    _ = object.maps.map(\.name)
    let check = EquivalenceCheck(packets: 3, seed: 1, batchSize: 4)
    for program in programs.prefix(4) {
      _ = Disassembler().lines(program.instructions)
      _ = try? check.run(program, maps: object.maps)
    }
  }
}
