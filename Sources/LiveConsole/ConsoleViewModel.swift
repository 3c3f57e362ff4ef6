import BPF
import Console
import Deployment
import Inspection
import Kernel

// The kernel's, inspection's and deployment's values turned into the
// plain values Console draws. Console sees none of them; this is the one
// place that knows both.

extension InterfaceRow {
  /// The row for `interface`: its first attached program (native before
  /// generic before offload), a bus address only where one exists.
  public init(_ interface: NetworkInterface) {
    let bus = interface.driver?.busInfo
    self.init(
      name: interface.name, index: interface.index, driver: interface.driver?.driver,
      isI40e: interface.isI40e, state: interface.state.rawValue,
      receiveQueues: interface.receiveQueues, transmitQueues: interface.transmitQueues,
      bus: bus.flatMap { $0.isEmpty || $0 == "N/A" ? nil : $0 },
      macAddress: interface.macAddress,
      program: interface.program.map {
        KernelProgram(id: $0.id, name: $0.name, attachMode: $0.mode.rawValue)
      })
  }
}

extension ConsoleSnapshot {
  /// A snapshot of `listing`'s interfaces (in its order, i40e first) and
  /// nothing else yet.
  public init(listing: InterfaceListing) {
    self.init(
      interfaces: listing.interfaces.map(InterfaceRow.init),
      reportsXDPFeatures: listing.reportsXDPFeatures)
  }
}

extension ActionTraffic {
  /// The traffic a ``CounterTracker`` reported.
  public init(_ report: CounterTracker.Report) {
    self.init(
      totals: report.totals, packetsPerSecond: report.packetsPerSecond,
      bytesPerSecond: report.bytesPerSecond)
  }
}

extension ProgramStatus {
  /// The program pane for `record`, with the rewrite's instruction counts
  /// (`nil` when the object is unreadable), the measured cost per packet
  /// of each form, and for the software datapath its report.
  init(
    _ record: AttachmentRecord, counts: RewriteSummaries.Counts?,
    nanosecondsPerPacket: [Form: Double], datapath: DatapathReading?,
    datapathNanosecondsPerPacket: [Form: Double], softwareEngine: String? = nil,
    kernelNanosecondsPerPacket: [Form: Double] = [:], batchInKernel: Bool = false
  ) {
    self.init(
      objectPath: record.object, programName: record.program,
      mode: datapath?.form ?? record.runningForm, strategy: record.strategy, bound: record.bound,
      batchSize: record.batchTrampoline.batchSize, attachMode: record.attachMode,
      instructionsBefore: counts?.before ?? 0, instructionsAfter: counts?.after,
      nanosecondsPerPacket: nanosecondsPerPacket,
      // A datapath that answered runs; else the record says (a dead one's
      // kernel fallback runs the program).
      datapath: (datapath != nil ? DatapathKind.software : record.runningDatapath).rawValue,
      zeroCopy: datapath?.zeroCopy, datapathNanosecondsPerPacket: datapathNanosecondsPerPacket,
      datapathMove: Self.datapathMove(of: record, batchInKernel: batchInKernel),
      batchRefusal: counts?.refusal)
    if let softwareEngine {
      self.softwareEngine = softwareEngine
      self.kernelNanosecondsPerPacket = kernelNanosecondsPerPacket
    }
  }

  /// What `b` does to `record`'s interface when it moves it between the
  /// kernel and the software datapath, as ``ProgramDeployment/swap(interface:)``
  /// does: a kernel attachment goes to the software datapath in batch form
  /// unless the kernel runs batch programs there (`batchInKernel`: its BTF
  /// has the batch patches' interface, the driver reports `batch`, native
  /// mode), where the swap stays in the kernel; the batch form moved from
  /// the kernel goes back to the kernel per packet. `nil` when `b` stays
  /// within one datapath.
  static func datapathMove(of record: AttachmentRecord, batchInKernel: Bool = false) -> String? {
    if record.isSoftware {
      guard record.form == .batch, record.movedFromKernel == true else { return nil }
      return "move \(record.interface) back to the kernel datapath in per-packet form"
    }
    guard record.form == .perPacket, !batchInKernel else { return nil }
    return "move \(record.interface) to the software datapath (AF_XDP) in batch form"
  }

  /// Whether `record`'s program can run in batch form in the kernel on its
  /// interface: the kernel can, `interface`'s driver can, in native mode.
  static func batchInKernel(
    _ record: AttachmentRecord, kernel: KernelBatchSupport, interface: NetworkInterface?
  ) -> Bool {
    guard case .supported = kernel, record.attachMode == .native else { return false }
    return interface?.xdpFeatures?.contains(.batch) == true
  }
}

extension KernelBatchSupport {
  /// What the BTF probe at `btfPath` says about batch XDP in the running
  /// kernel.
  public static func probe(btfPath: String) -> KernelBatchSupport {
    do {
      let support = try BatchKernelSupport.probe(btfPath: btfPath)
      if let interface = support.interface {
        return .supported(
          "BPF_F_XDP_BATCH: \(interface.layout.stride) B records, act at \(interface.layout.action)"
        )
      }
      if let field = support.actionField {
        return .unsupported("xdp_buff.\(field.name), not the batch patches' interface (BTF)")
      }
      return .unsupported("no xdp_buff.act (BTF)")
    } catch {
      return .unknown("\(error)")
    }
  }
}
