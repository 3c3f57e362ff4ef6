/// The program pane: which object and program run on the selected
/// interface, per-packet or batch, how the rewrite was made and what it
/// costs, and whether the kernel could batch by itself.
struct ProgramView {
  let program: ProgramStatus?
  let interface: String?
  /// A program on the interface that xdpbatch did not attach, if any.
  let foreign: KernelProgram?
  let kernel: KernelBatchSupport
  let focused: Bool
  /// Lines scrolled past the top (``ConsoleState/programScroll``); the
  /// last line stays in sight.
  var scroll = 0
  let styles: StyleSheet

  func draw(into grid: inout ScreenGrid, in rect: Rect) {
    grid.box(
      rect, style: focused ? styles.focusBorder : styles.border, title: "program",
      titleStyle: styles.title, note: interface ?? "", noteStyle: styles.inactive)
    let inner = rect.inset(by: 1)
    var lines: [[(String, CellStyle)]] = []
    if let program {
      lines = rows(for: program, width: inner.width - 10)
    } else if let foreign {
      lines.append(
        row(
          "kernel",
          [
            ((foreign.name ?? "unnamed") + " #\(foreign.id)", styles.base.adding(.bold)),
            (" · " + foreign.attachMode, styles.inactive),
          ]))
      lines += foreignRows(foreign)
    } else {
      lines.append([("nothing attached", styles.inactive)])
      lines.append([
        ("a", styles.highlight), (" or ", styles.inactive), ("Enter", styles.highlight),
        (" attaches a sample", styles.inactive),
      ])
    }
    lines.append(row("batching", kernelText))
    let skipped = max(0, min(scroll, lines.count - inner.height))
    for (offset, line) in lines.dropFirst(skipped).prefix(inner.height).enumerated() {
      grid.write(spans: line, x: inner.x + 1, y: inner.y + offset, clip: inner)
    }
  }

  /// What the kernel knows about another tool's program: its tag, its
  /// run statistics (xdpbatch's counters run only in its own programs)
  /// and its maps.
  private func foreignRows(_ foreign: KernelProgram) -> [[(String, CellStyle)]] {
    var rows = [[("attached by another tool · d detaches it", styles.inactive)]]
    guard let details = foreign.details else { return rows }
    rows.append(row("tag", [(details.tag, styles.base)]))
    var runs: [(String, CellStyle)] = [(Quantity.si(Double(details.runCount)), styles.base)]
    if let cost = details.nanosecondsPerRun {
      runs += [(" · ", styles.inactive), (Quantity.nanoseconds(cost), styles.base)]
      runs.append((" per run", styles.inactive))
    } else {
      runs.append((" (kernel run statistics)", styles.inactive))
    }
    rows.append(row("runs", runs))
    rows.append(
      row(
        "maps",
        [(details.maps.isEmpty ? "none" : details.maps.joined(separator: ", "), styles.base)]))
    return rows
  }

  private var kernelText: [(String, CellStyle)] {
    switch kernel {
    case .supported(let detail): [("batches", styles.info), (" · " + detail, styles.inactive)]
    case .unsupported(let detail):
      [("per-packet only", styles.base), (" · " + detail, styles.inactive)]
    case .unknown(let detail): [("unknown", styles.inactive), (" · " + detail, styles.inactive)]
    }
  }

  private func row(_ label: String, _ value: [(String, CellStyle)]) -> [(String, CellStyle)] {
    [(label.padded(toWidth: 9), styles.inactive)] + value
  }

  private func rows(for program: ProgramStatus, width: Int) -> [[(String, CellStyle)]] {
    let modeStyle = program.mode == .batch ? styles.info.adding(.bold) : styles.base.adding(.bold)
    var instructions: [(String, CellStyle)] = [("\(program.instructionsBefore)", styles.base)]
    if let after = program.instructionsAfter {
      instructions += [(" → ", styles.inactive), ("\(after)", styles.base)]
      instructions.append(("  (+\(after - program.instructionsBefore))", styles.inactive))
    }
    let head = [
      row("object", [(Self.leftTruncated(program.objectPath, width: width), styles.base)]),
      row("program", [(program.programName, styles.base.adding(.bold))]),
      row("mode", [(program.mode.rawValue, modeStyle)] + placeText(program)),
    ]
    let rewrite = [
      row(
        "rewrite",
        [
          (program.strategy.rawValue, styles.base), (" · ", styles.inactive),
          (program.bound.rawValue, styles.base), (" · ", styles.inactive),
          ("\(program.batchSize)", styles.base), (" buffers", styles.inactive),
        ]),
      row("insns", instructions),
    ]
    // The software datapath's three cost rows come first: a short pane
    // keeps the figures and cuts the rewrite's.
    return program.softwareEngine == nil
      ? head + rewrite + costRows(program) : head + costRows(program) + rewrite
  }

  /// What each form costs: the software datapath's program and whole
  /// datapath (both forms on its own traffic) with the kernel's own figure
  /// on a line of its own, or the kernel's figures alone.
  private func costRows(_ program: ProgramStatus) -> [[(String, CellStyle)]] {
    guard let engine = program.softwareEngine else {
      return [
        row(
          "ns/pkt", costText(program.nanosecondsPerPacket, of: program.isSoftware ? "program" : nil)
        )
      ]
        + (program.isSoftware
          ? [row("datapath", costText(program.datapathNanosecondsPerPacket, of: "whole datapath"))]
          : [])
    }
    var rows = [
      row("ns/pkt", costText(program.nanosecondsPerPacket, of: "software " + engine)),
      row("datapath", costText(program.datapathNanosecondsPerPacket, of: "whole datapath")),
    ]
    if !program.kernelNanosecondsPerPacket.isEmpty {
      rows.append(row("kernel", kernelCostText(program.kernelNanosecondsPerPacket)))
    }
    return rows
  }

  /// The kernel's own figures, each named by its form.
  private func kernelCostText(_ costs: [ProgramStatus.Mode: Double]) -> [(String, CellStyle)] {
    var spans: [(String, CellStyle)] = []
    for form in ProgramStatus.Mode.allCases {
      guard let cost = costs[form] else { continue }
      if !spans.isEmpty { spans.append((" · ", styles.inactive)) }
      spans += [(Quantity.nanoseconds(cost), styles.base), (" " + form.rawValue, styles.inactive)]
    }
    spans.append(("  run statistics", styles.inactive))
    return spans
  }

  /// Where the program runs: the kernel and its attach mode, or the
  /// software datapath and whether its sockets are zero-copy.
  private func placeText(_ program: ProgramStatus) -> [(String, CellStyle)] {
    guard program.isSoftware else {
      return [(program.attachMode.map { " · kernel \($0)" } ?? " · engine", styles.inactive)]
    }
    let sockets = program.zeroCopy.map { $0 ? "zero-copy" : "copy" } ?? "starting"
    return [
      (" · ", styles.inactive), ("software", styles.info), (" AF_XDP " + sockets, styles.inactive),
    ]
  }

  /// `costs` per form, per-packet → batch with the change once both ran;
  /// `what` says what was timed (`nil`: nothing added).
  private func costText(_ costs: [ProgramStatus.Mode: Double], of what: String?)
    -> [(String, CellStyle)]
  {
    let perPacket = costs[.perPacket]
    let batch = costs[.batch]
    var spans = formCosts(perPacket: perPacket, batch: batch)
    if let what, perPacket != nil || batch != nil { spans.append(("  " + what, styles.inactive)) }
    return spans
  }

  private func formCosts(perPacket: Double?, batch: Double?) -> [(String, CellStyle)] {
    switch (perPacket, batch) {
    case (let perPacket?, let batch?):
      var spans: [(String, CellStyle)] = [
        (Quantity.nanoseconds(perPacket), styles.base), (" → ", styles.inactive),
        (Quantity.nanoseconds(batch), styles.base),
      ]
      if perPacket > 0 {
        let change = (batch - perPacket) / perPacket * 100
        let text = change <= 0 ? "  (\(Int(change.rounded()))%)" : "  (+\(Int(change.rounded()))%)"
        spans.append((text, change <= 0 ? styles.info : styles.error))
      }
      return spans
    case (let only?, nil):
      return [(Quantity.nanoseconds(only), styles.base), (" per-packet", styles.inactive)]
    case (nil, let only?):
      return [(Quantity.nanoseconds(only), styles.base), (" batch", styles.inactive)]
    case (nil, nil):
      return [("not measured", styles.inactive)]
    }
  }

  /// A path cut at the left (`…/samples/xdp1.o`): the file name matters most.
  static func leftTruncated(_ path: String, width: Int) -> String {
    guard path.displayWidth > width, width > 1 else { return path }
    var tail = ""
    for character in path.reversed() {
      if tail.displayWidth + DisplayWidth.of(character) > width - 1 { break }
      tail.insert(character, at: tail.startIndex)
    }
    return "…" + tail
  }
}
