import Foundation
import Lab

// The bench's figures as the command line prints them: one table or a few
// lines a section (`bench` without `--json`).

extension InterpreterReport {
  /// The head-to-head as lines of text.
  var text: String {
    var lines = [
      String(
        format: "interpreter: %.2f ns per instruction (loop of %d instructions)",
        engine.nanosecondsPerInstruction, engine.loopInstructions),
      String(
        format: "%@: %@ over %d generated frames: %.1f ns per packet per-packet "
          + "(%.1f instructions a packet), %.1f ns per packet batch (64)",
        engine.engine, program, packets, engine.perPacketNanoseconds,
        engine.perPacketInstructions, engine.batchNanoseconds),
    ]
    switch kernel {
    case .measured(let nanoseconds, let repetitions):
      lines.append(
        String(
          format: "kernel: %@ over the same frames: %.1f ns per packet (test run, repeat %u)",
          program, nanoseconds, repetitions))
      if let ratios {
        lines.append(
          String(
            format: "ratio %@/kernel: %.1fx per-packet, %.1fx batch", engine.engine,
            ratios.perPacket, ratios.batch))
      }
    case .skipped(let reason):
      lines.append("kernel: skipped (\(reason))")
    }
    return lines.joined(separator: "\n")
  }
}

extension BenchConditions {
  /// `measured: release build, engine jit; machine: …; load average at the end …`.
  var line: String {
    "measured: \(build) build, engine \(engine); " + machine.line
      + (loadAtEnd.map {
        "; at the end " + $0.map { String(format: "%.2f", $0) }.joined(separator: " ")
      }
        ?? "")
  }
}

/// A right-aligned table cell, `-` for a figure not measured.
private func cell(_ value: Double?, _ format: String, width: Int) -> String {
  right(value.map { String(format: format, $0) } ?? "-", width)
}

/// `text` right-aligned in `width` columns.
private func right(_ text: String, _ width: Int) -> String {
  String(repeating: " ", count: max(width - text.count, 0)) + text
}

extension SampleFigures {
  /// The rows as a table; `engine` names the engine of the engine columns.
  /// KERNEL is the test run's raw figure (the median of its rounds), NET
  /// the median of the rounds' differences from the empty program.
  static func table(_ rows: [SampleFigures], engine: String) -> String {
    let engineColumn = engine.uppercased()
    var lines = [
      "PROGRAM".padding(toLength: 44, withPad: " ", startingAt: 0)
        + right("\(engineColumn) ns/pkt", 15) + "  BATCH ns/pkt  KERNEL ns/pkt"
        + "  NET ns/pkt" + right("\(engineColumn)/KERNEL", 15) + "  LIVE Mpps"
    ]
    for row in rows {
      lines.append(
        "\(row.object):\(row.program)".padding(toLength: 44, withPad: " ", startingAt: 0)
          + cell(row.engineNanosecondsPerPacket, "%.1f", width: 15)
          + cell(row.engineBatchNanosecondsPerPacket, "%.1f", width: 14)
          + cell(row.kernelNanosecondsPerPacket, "%.1f", width: 15)
          + cell(row.kernelNetNanosecondsPerPacket, "%.1f", width: 12)
          + cell(row.engineKernelRatio, "%.1fx", width: 15)
          + cell(row.liveMpps, "%.3f", width: 11))
      for note in row.notes { lines.append("    \(note)") }
    }
    return lines.joined(separator: "\n")
  }
}

extension EngineComparison {
  /// The engines as a table.
  var table: String {
    var lines = [
      String(
        format:
          "ENGINES  compute loop: interpreter %.3f ns/insn, JIT %.3f ns/insn (%.1fx); "
          + "JIT with its 2 memory accesses checked: %.3f ns/insn",
        interpreterNanosecondsPerInstruction, jitNanosecondsPerInstruction,
        interpreterNanosecondsPerInstruction / max(jitNanosecondsPerInstruction, 1e-9),
        jitCheckedNanosecondsPerInstruction),
      jitCheckedOverUncheckedRounds.map {
        String(
          format: "checked over unchecked %.2fx (median of %d interleaved rounds, quartiles "
            + "%.2f - %.2f)", $0.median, $0.rounds, $0.lowQuartile, $0.highQuartile)
      } ?? "checked over unchecked: not measured",
      testRunLoopNanoseconds.map {
        String(
          format: "kernel test-run loop: %.1f ns per packet (a program that only returns, "
            + "test-run beside each program); NET = the median of the rounds' KERNEL less it, "
            + "JIT NET likewise", $0)
      } ?? "kernel test-run loop: not measured",
      kernelTimerLine,
      "JIT EMPTY: a program that only returns, called like the program in the same "
        + "driver loop; JIT NET = JIT less it; NET/NET = JIT NET over NET, GROSS/NET = JIT over NET",
      "KCODE NET: the kernel's own JIT code copied here and called like the JIT's, less the "
        + "kernel's empty program's code, same rounds (- where it reaches into the kernel)",
      "PROGRAM".padding(toLength: 44, withPad: " ", startingAt: 0)
        + "   JIT ns/pkt  JIT EMPTY  JIT NET  KERNEL ns/pkt  NET ns/pkt  NET/NET  GROSS/NET"
        + "  KCODE NET",
    ]
    let jitNet = jitNetNanosecondsPerPacket
    for name in jitNanosecondsPerPacket.keys.sorted() {
      let jit = jitNanosecondsPerPacket[name] ?? 0
      let net = kernelNetNanosecondsPerPacket[name]
      func over(_ value: Double?) -> Double? {
        guard let value, let net, net > 0, !kernelNetBelowResolution.contains(name) else {
          return nil
        }
        return value / net
      }
      lines.append(
        name.padding(toLength: 44, withPad: " ", startingAt: 0)
          + cell(jit, "%.1f", width: 13)
          + cell(jitEmptyNanosecondsPerPacket[name], "%.1f", width: 11)
          + cell(jitNet[name], "%.1f", width: 9)
          + cell(kernelNanosecondsPerPacket[name], "%.1f", width: 15)
          + cell(net, "%.1f", width: 12) + cell(over(jitNet[name]), "%.2fx", width: 9)
          + cell(over(jit), "%.2fx", width: 11)
          + cell(kernelCodeNetNanosecondsPerPacket[name], "%.1f", width: 11))
    }
    return lines.joined(separator: "\n")
  }
}

/// A table of the JIT's per-program rows: a title over the program column
/// (44 wide), then one line per row, the program, a 10-wide second column
/// and the figures.
private func programTable(
  _ title: String, _ header: String, _ rows: [(program: String, second: String, figures: String)]
) -> String {
  let lines =
    [title.padding(toLength: 44, withPad: " ", startingAt: 0) + "  " + header]
    + rows.map { row in
      row.program.padding(toLength: 44, withPad: " ", startingAt: 0) + "  "
        + row.second.padding(toLength: 10, withPad: " ", startingAt: 0) + row.figures
    }
  return lines.joined(separator: "\n")
}

extension BatchingFigure {
  /// The rows as a table.
  static func table(_ rows: [BatchingFigure]) -> String {
    var refusals: [(program: String, reason: String)] = []
    for row in rows {
      if let reason = row.batchRefusal, !refusals.contains(where: { $0.program == row.program }) {
        refusals.append((row.program, reason))
      }
    }
    let table = programTable(
      "BATCHING (JIT, batch of 64)", "CALL        PER-PACKET ns  BATCH ns  SPEEDUP",
      rows.map { row in
        let batch: String
        if let batchNanoseconds = row.batchNanoseconds, let speedup = row.speedup {
          batch = String(format: "%10.2f%8.2fx", batchNanoseconds, speedup)
        } else {
          batch = "         -       -"
        }
        return (row.program, row.call, String(format: "%15.2f", row.perPacketNanoseconds) + batch)
      })
    return
      ([
        table,
        "  SPEEDUP is the median of the per-round ratios of the two forms timed back to back"
          + " (ns: each form's fastest round)",
      ]
      + refusals.map { "  - \($0.program): no batch form, batching cannot win: \($0.reason)" }
      + rows.compactMap { row in
        row.batchLoss.map { "  - \(row.program) (\(row.call)): \($0)" }
      })
      .joined(separator: "\n")
  }
}

extension RunnerFigure {
  /// The rows as a table.
  static func table(_ rows: [RunnerFigure]) -> String {
    programTable(
      "RUNNER (JIT, frames in place)", "FORM        FRAMES/RUN  ns/FRAME  DRIVER ns  OVER DRIVER",
      rows.map { row in
        (
          row.program, row.form,
          String(format: "%12d%10.2f", row.framesPerRun, row.nanosecondsPerFrame)
            + (row.driverNanosecondsPerFrame.map { String(format: "%11.2f", $0) } ?? "          -")
            + (row.overDriver.map { String(format: "%12.2fx", $0) } ?? "            -")
        )
      })
  }
}

extension RewriteTiming {
  /// The rows as a table.
  static func table(_ rows: [RewriteTiming]) -> String {
    var lines = ["REWRITE (\(rows.first?.instructions ?? 0) instructions)   median ms   minimum ms"]
    for row in rows {
      lines.append(
        "\(row.strategy) / \(row.bound)".padding(toLength: 33, withPad: " ", startingAt: 0)
          + String(format: "%11.2f  %11.2f", row.medianMilliseconds, row.minimumMilliseconds))
    }
    return lines.joined(separator: "\n")
  }
}

extension DatapathSection {
  /// The section as a table, with the machine it ran on.
  var text: String {
    if let skipped, rows.isEmpty { return "DATAPATH: skipped (\(skipped))" }
    var text = DatapathBenchRow.table(rows)
    if !maps.isEmpty { text += "\n\n" + MapCostRow.table(maps) }
    if let skipped { text += "\nDATAPATH: stopped early (\(skipped))" }
    return text + "\n" + machine.line + ", \(senders ?? 0) generator thread(s)"
  }
}

extension MachineDescription {
  /// `machine: 2 CPUs, MODEL, kernel RELEASE, load average 1.00 0.90 0.80`.
  var line: String {
    "machine: \(processors) CPUs, \(cpu), kernel \(kernel), load average "
      + load.map { String(format: "%.2f", $0) }.joined(separator: " ")
  }
}

extension DatapathBenchRow {
  /// The section as a table.
  static func table(_ rows: [DatapathBenchRow]) -> String {
    var lines = [
      "DATAPATH (veth, full-speed generator)        offered  received     acted   prog ns  path ns  frames   capacity   rate",
      "                                                Mpps      Mpps      Mpps  /packet  /packet  /RX bat    vs bare  vs bare           capacity vs matched",
    ]
    for row in rows {
      var name: String
      switch row.kind {
      case "kernel": name = "kernel XDP \(row.program ?? "")"
      case "bare": name = "bare AF_XDP \(row.form)"
      default:
        name = "\(row.program ?? "") \(row.form)"
        if let engine = row.engine, engine != "jit" { name += " (\(engine))" }
        if row.groupActions == true { name += " grouped" }
        if let frames = row.pacedFrames { name += " @\(frames)/batch" }
      }
      func number(_ value: Double?, _ format: String) -> String {
        value.map { String(format: format, $0) } ?? String(repeating: " ", count: 8) + "-"
      }
      let capacity = number(row.capacityRatio.map { $0 * 100 }, "%9.0f %%")
      let ratio =
        row.ratio.map { String(format: "%6.0f %%", $0 * 100) + " \(row.reference ?? "")" } ?? ""
      let matched =
        row.matchedCapacityRatio.map {
          String(format: "  %5.0f %% ", $0 * 100) + (row.matchedReference ?? "")
        } ?? ""
      lines.append(
        name.padding(toLength: 43, withPad: " ", startingAt: 0) + (row.generatorBound ? "*" : " ")
          + String(format: "%8.2f  %8.2f  %8.2f", row.offeredMpps, row.receivedMpps, row.actedMpps)
          + number(row.programNanosecondsPerPacket, "%9.1f")
          + number(row.datapathNanosecondsPerPacket, "%9.1f")
          + number(row.framesPerBatch, "%8.1f")
          + (row.kind == "software" ? capacity : String(repeating: " ", count: 11))
          + (matched.isEmpty
            ? ratio : ratio.padding(toLength: 18, withPad: " ", startingAt: 0) + matched))
    }
    if let rounds = rows.lazy.compactMap(\.capacityRatioRounds).first?.count, rounds > 1 {
      lines.append(
        "capacity of a datapath row: the median of \(rounds) rounds, each its bare loop then"
          + " the datapath (every round's ratio: capacity_ratio_rounds in --json)")
    }
    if rows.contains(where: \.generatorBound) {
      lines.append(
        "* the veth ring dropped nothing: the receiver kept up, the generator may be the limit;"
          + " then only capacity (the bare loop's path ns over the row's) compares")
    }
    return lines.joined(separator: "\n")
  }
}

extension MapCostRow {
  /// The maps part as a table.
  static func table(_ costs: [MapCostRow]) -> String {
    var lines = [
      "MAPS (software datapath, per packet: own maps, then shared with the kernel, alternately)",
      "program                  path ns   path ns  exchange    shared   acted  exchange  maps",
      "                             own    shared   ns/pkt    /own     /own        us",
    ]
    func number(_ value: Double?, _ format: String, _ width: Int) -> String {
      value.map { String(format: format, $0) } ?? String(repeating: " ", count: width - 1) + "-"
    }
    for cost in costs {
      lines.append(
        cost.program.padding(toLength: 22, withPad: " ", startingAt: 0)
          + number(cost.ownNanosecondsPerPacket, "%9.1f", 9)
          + number(cost.sharedNanosecondsPerPacket, "%10.1f", 10)
          + number(cost.exchangeNanosecondsPerPacket, "%10.2f", 10)
          + number(cost.ratio.map { $0 * 100 }, "%9.0f %%", 11)
          + number(cost.actedRatio.map { $0 * 100 }, "%6.0f %%", 8)
          + number(cost.exchangeMicroseconds, "%10.1f", 10) + "  "
          + cost.maps.joined(separator: "; "))
    }
    return lines.joined(separator: "\n")
  }
}

extension EngineComparison {
  /// The clock of the kernel's rounds, and what a ratio left out means.
  fileprivate var kernelTimerLine: String {
    guard let settings = kernelTestRun, let timer = settings.timer else {
      return "kernel rounds' clock: not measured"
    }
    let clock =
      timer.name == .testRunDuration
      ? "NET timed by the test run's duration (whole ns, run statistics off)"
      : String(
        format: "NET timed by the kernel's run statistics (steps of %g ns)",
        timer.resolutionNanoseconds)
    let flagged =
      kernelNetBelowResolution.isEmpty
      ? ""
      : "; NET under 4 steps, ratios left out: " + kernelNetBelowResolution.joined(separator: ", ")
    let second =
      settings.runTimeStatistics != nil
      ? "; the same rounds with run statistics on: samples' kernel_rounds.run_time_statistics"
      : settings.statisticsRefusal.map { "; run statistics refused: \($0)" } ?? ""
    return clock + flagged + second
  }
}
