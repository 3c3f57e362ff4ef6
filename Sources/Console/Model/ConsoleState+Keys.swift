/// Key handling: each key changes the state and may ask the layer above for
/// something. The help overlay (`?`) lists the same keys.
extension ConsoleState {
  /// Applies `key` with `snapshot` on screen; returns the commands to run.
  public mutating func reduce(_ key: Key, in snapshot: ConsoleSnapshot) -> [ConsoleCommand] {
    if key == .interrupt { return [.quit] }
    if let overlay { return reduce(key, in: overlay, snapshot: snapshot) }
    notice = nil
    switch key {
    case .character("q"):
      return [.quit]
    case .escape:
      // Esc never quits: it clears a filter, and otherwise does nothing.
      guard !filter.isEmpty else { break }
      filter = ""
      notice = .info("filter cleared")
      return reconcile(with: snapshot)
    case .character("l"):
      overlay = .messages(scroll: 0)
    case .character("o"):
      order = order.next
      notice = .info(
        "interfaces sorted by \(order == .listed ? "i40e first, index" : order.rawValue)")
      return reconcile(with: snapshot)
    case .character("?"):
      overlay = .help
    case .up, .character("k"):
      return step(-1, in: snapshot)
    case .down, .character("j"):
      return step(1, in: snapshot)
    case .pageUp, .home:
      return step(-Int.max / 2, in: snapshot)
    case .pageDown, .end:
      return step(Int.max / 2, in: snapshot)
    case .tab, .right:
      focus = focus.moved(by: 1)
    case .backTab, .left:
      focus = focus.moved(by: -1)
    case .enter, .character("a"):
      guard let interface = requireSelection() else { break }
      overlay = .attach(AttachChooser(interface: interface))
    case .character("b"):
      guard let interface = requireSelection() else { break }
      // A program the rewriter refuses has no batch form: say so at once,
      // before any question (issue 24: it asked for y, then refused).
      if snapshot.selectedInterface == interface, let program = snapshot.program,
        program.mode == .perPacket, let refusal = program.batchRefusal
      {
        notice = .error(
          "b: \(program.programName) has no batch form: \(refusal); nothing changed on \(interface)"
        )
        return []
      }
      // A swap that moves the interface between datapaths asks first.
      if snapshot.selectedInterface == interface, let move = snapshot.program?.datapathMove {
        overlay = .confirmSwap(interface: interface, move: move)
        notice = .info("b: \(move)? y to confirm, any other key cancels")
        return []
      }
      return [.swapMode(interface: interface)]
    case .character("s"):
      return requireSelection().map { [.cycleStrategy(interface: $0)] } ?? []
    case .character("d"):
      guard let interface = requireSelection() else { break }
      if hasProgram(on: interface, in: snapshot) {
        overlay = .confirmDetach(interface: interface)
      } else {
        notice = .info("nothing is attached to \(interface)")
      }
    case .character("r"):
      return requireSelection().map { [.resetBaseline(interface: $0)] } ?? []
    case .character("/"):
      overlay = .filter(previous: filter)
    case .character("i"):
      i40eOnly.toggle()
      notice = .info(i40eOnly ? "listing i40e ports only" : "listing every interface")
      return reconcile(with: snapshot)
    case .character("t"):
      themeIndex = (themeIndex + 1) % themeNames.count
      notice = .info("theme \(themeName)")
    case .character("m"):
      overlay = .maps(scroll: 0)
    case .character("c"):
      overlay = .perCPU
    case .character("p"):
      frozenHistory = plotsPaused ? nil : snapshot.history
      notice = .info(plotsPaused ? "plots paused (p resumes)" : "plots live")
    default:
      break
    }
    return []
  }

  /// Up/Down (and the page keys) act in the focused pane only: the
  /// cursor in the interface list, the program pane's lines, the time
  /// span in the plot; the histogram has nothing to move (issue 24: three
  /// of the four panes moved the interface selection).
  private mutating func step(_ step: Int, in snapshot: ConsoleSnapshot) -> [ConsoleCommand] {
    switch focus {
    case .interfaces:
      return moveSelection(by: step, in: snapshot)
    case .program:
      // The view clamps to the pane's lines; this only keeps the sum finite.
      let limit = 1 << 16
      programScroll = max(0, min(limit, programScroll + max(-limit, min(limit, step))))
    case .actions:
      break
    case .history:
      let windows = Self.plotWindows
      let index = windows.firstIndex(of: plotWindow) ?? 0
      let clamped = max(-windows.count, min(windows.count, step))
      plotWindow = windows[max(0, min(windows.count - 1, index + clamped))]
    }
    return []
  }

  /// The selected interface, or `nil` with a notice saying to pick one.
  private mutating func requireSelection() -> String? {
    if selection == nil { notice = .error("no interface selected") }
    return selection
  }

  private mutating func reduce(_ key: Key, in overlay: Overlay, snapshot: ConsoleSnapshot)
    -> [ConsoleCommand]
  {
    switch overlay {
    case .help, .perCPU:
      self.overlay = nil
    case .maps(let scroll):
      let lines = MapPanel.lines(snapshot.maps).count
      switch key {
      case .up, .character("k"): self.overlay = .maps(scroll: max(0, scroll - 1))
      case .down, .character("j"): self.overlay = .maps(scroll: min(max(0, lines - 1), scroll + 1))
      case .pageUp: self.overlay = .maps(scroll: max(0, scroll - 10))
      case .pageDown: self.overlay = .maps(scroll: min(max(0, lines - 1), scroll + 10))
      default: self.overlay = nil
      }
    case .confirmDetach(let interface):
      self.overlay = nil
      if key == .character("y") || key == .character("Y") || key == .enter {
        let ours = snapshot.selectedInterface == interface && snapshot.program != nil
        if !ours, let foreign = snapshot.interface(named: interface)?.program {
          return [.detachForeign(interface: interface, programID: foreign.id)]
        }
        return [.detach(interface: interface)]
      }
      notice = .info("detach cancelled")
    case .confirmSwap(let interface, _):
      self.overlay = nil
      if key == .character("y") || key == .character("Y") {
        notice = nil
        return [.swapMode(interface: interface)]
      }
      notice = .info("b cancelled: nothing changed on \(interface)")
    case .messages(let scroll):
      reduceMessages(key, scroll: scroll)
    case .filter(let previous):
      return reduceFilter(key, previous: previous, snapshot: snapshot)
    case .attach(let chooser):
      return reduceChooser(key, chooser, choices: snapshot.attachChoices)
    }
    return []
  }

  /// The message log: arrows and pages scroll, Esc, `q` and `l` close.
  private mutating func reduceMessages(_ key: Key, scroll: Int) {
    // The view wraps at the dialog's width, at least 40 columns: no more
    // lines than this.
    let lines = log.lines(width: 40).count
    var scroll = scroll
    switch key {
    case .escape, .character("q"), .character("l"), .enter:
      overlay = nil
      return
    case .up, .character("k"): scroll += 1
    case .down, .character("j"): scroll -= 1
    case .pageUp: scroll += 10
    case .pageDown: scroll -= 10
    case .home: scroll = lines
    case .end: scroll = 0
    default: break
    }
    overlay = .messages(scroll: max(0, min(scroll, lines)))
  }

  private mutating func reduceFilter(_ key: Key, previous: String, snapshot: ConsoleSnapshot)
    -> [ConsoleCommand]
  {
    switch key {
    case .enter:
      overlay = nil
    case .escape:
      filter = previous
      overlay = nil
    case .backspace:
      if !filter.isEmpty { filter.removeLast() }
    case .character(let character):
      filter.append(character)
    default:
      return []
    }
    return reconcile(with: snapshot)
  }

  private mutating func reduceChooser(
    _ key: Key, _ chooser: AttachChooser, choices: [AttachChoice]
  ) -> [ConsoleCommand] {
    var chooser = chooser
    if chooser.typing {
      switch key {
      case .escape:
        chooser.typing = false
      case .backspace:
        if !chooser.path.isEmpty { chooser.path.removeLast() }
      case .character(let character):
        chooser.path.append(character)
      case .enter:
        guard !chooser.path.isEmpty else { break }
        overlay = nil
        return [.attach(interface: chooser.interface, objectPath: chooser.path, program: nil)]
      default:
        break
      }
      overlay = .attach(chooser)
      return []
    }
    switch key {
    case .escape, .character("q"):
      overlay = nil
      return []
    case .up, .character("k"):
      chooser.cursor = max(0, chooser.cursor - 1)
    case .down, .character("j"):
      chooser.cursor = min(choices.count, chooser.cursor + 1)
    case .enter:
      guard chooser.cursor < choices.count else {
        chooser.typing = true
        break
      }
      let choice = choices[chooser.cursor]
      overlay = nil
      return [
        .attach(
          interface: chooser.interface, objectPath: choice.objectPath,
          program: choice.programName)
      ]
    default:
      break
    }
    overlay = .attach(chooser)
    return []
  }
}
