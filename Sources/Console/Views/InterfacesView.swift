/// The interface list: i40e ports first and marked (or sorted by `o`),
/// one row each with the name and attached program in full, then XDP
/// mode, driver, state, receive rate, index, queues, bus and MAC as
/// width allows.
struct InterfacesView {
  let interfaces: [InterfaceRow]
  let selection: String?
  /// Whether the machine has any i40e port (listed or filtered out).
  let anyI40e: Bool
  let focused: Bool
  let state: ConsoleState
  let styles: StyleSheet

  /// One column: a heading, a width and how to print a row's value.
  private struct Column {
    var heading: String
    var width: Int
    var alignRight = false
    var value: (InterfaceRow) -> String
  }

  func draw(into grid: inout ScreenGrid, in rect: Rect) {
    var title = state.i40eOnly ? "interfaces (i40e only)" : "interfaces"
    if state.order != .listed { title += " · by " + state.order.rawValue }
    if case .filter = state.overlay {
      title += "  /" + state.filter + "▏"
    } else if !state.filter.isEmpty {
      title += "  /" + state.filter
    }
    let note = (anyI40e ? "" : "no i40e · ") + "\(interfaces.count) shown"
    grid.box(
      rect, style: focused ? styles.focusBorder : styles.border, title: title,
      titleStyle: styles.title, note: note, noteStyle: styles.inactive)
    let inner = rect.inset(by: 1)
    guard inner.height >= 2 else { return }
    let columns = self.columns(fitting: inner.width - 2)
    var x = inner.x + 2
    for column in columns {
      let heading = column.heading.padded(toWidth: column.width, alignRight: column.alignRight)
      x += grid.write(heading + " ", x: x, y: inner.y, style: styles.inactive, clip: inner)
    }
    guard !interfaces.isEmpty else {
      let text = state.filter.isEmpty ? "no interfaces" : "no interface matches /\(state.filter)"
      grid.write(text, x: inner.x + 2, y: inner.y + 1, style: styles.inactive, clip: inner)
      return
    }
    let rows = inner.height - 1
    let selected = interfaces.firstIndex { $0.name == selection } ?? 0
    let first = max(0, min(selected - rows / 2, interfaces.count - rows))
    for (offset, interface) in interfaces.dropFirst(first).prefix(rows).enumerated() {
      let y = inner.y + 1 + offset
      let isSelected = interface.name == selection
      let style = isSelected ? styles.selected : styles.base
      if isSelected {
        grid.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style: style)
      }
      if interface.isI40e {
        grid.write("●", x: inner.x, y: y, style: isSelected ? style : styles.i40e, clip: inner)
      }
      var x = inner.x + 2
      for column in columns {
        let text = column.value(interface).padded(
          toWidth: column.width, alignRight: column.alignRight)
        let cellStyle = text.trimmingSpaces() == "-" && !isSelected ? styles.inactive : style
        x += grid.write(text, x: x, y: y, style: cellStyle, clip: inner)
        x += grid.write(" ", x: x, y: y, style: style, clip: inner)
      }
    }
    if first > 0 {
      grid.write("↑", x: inner.maxX - 1, y: inner.y + 1, style: styles.inactive)
    }
    if first + rows < interfaces.count {
      grid.write("↓", x: inner.maxX - 1, y: inner.maxY - 1, style: styles.inactive)
    }
  }

  /// The columns that fit in `width`, in display order. Names get their
  /// full width and the program its text (up to 22 cells); the other
  /// columns join in order of use (XDP mode, driver, state, rx rate,
  /// index, queues, bus, MAC) while they fit, and the program takes
  /// what is left.
  private func columns(fitting width: Int) -> [Column] {
    func widest(_ heading: String, _ value: (InterfaceRow) -> String, cap: Int) -> Int {
      min(
        cap,
        interfaces.map { value($0).displayWidth }.max().map { max($0, heading.count) }
          ?? heading.count)
    }
    let name: (InterfaceRow) -> String = { $0.name }
    let driver: (InterfaceRow) -> String = { $0.driver ?? "-" }
    let state: (InterfaceRow) -> String = { $0.state }
    let mode: (InterfaceRow) -> String = { $0.program?.attachMode ?? "-" }
    let rate: (InterfaceRow) -> String = {
      $0.receivePacketsPerSecond.map { Quantity.si($0) } ?? "-"
    }
    let index: (InterfaceRow) -> String = { String($0.index) }
    let queues: (InterfaceRow) -> String = { "\($0.receiveQueues)/\($0.transmitQueues)" }
    let bus: (InterfaceRow) -> String = { $0.bus ?? "-" }
    let mac: (InterfaceRow) -> String = { $0.macAddress.isEmpty ? "-" : $0.macAddress }
    let programText: (InterfaceRow) -> String = { interface in
      interface.program.map { program in (program.name ?? "?") + " #\(program.id)" } ?? "-"
    }
    let nameColumn = Column(heading: "NAME", width: widest("NAME", name, cap: 15), value: name)
    // Most useful first; shown in the order of `display`.
    let optional = [
      Column(heading: "XDP", width: widest("XDP", mode, cap: 7), value: mode),
      Column(heading: "DRIVER", width: widest("DRIVER", driver, cap: 10), value: driver),
      Column(heading: "STATE", width: widest("STATE", state, cap: 7), value: state),
      Column(heading: "RX/s", width: widest("RX/s", rate, cap: 6), alignRight: true, value: rate),
      Column(heading: "IDX", width: widest("IDX", index, cap: 5), alignRight: true, value: index),
      Column(heading: "RX/TX", width: widest("RX/TX", queues, cap: 9), value: queues),
      Column(heading: "BUS", width: widest("BUS", bus, cap: 12), value: bus),
      Column(heading: "MAC", width: 17, value: mac),
    ]
    let programWanted = widest("PROGRAM", programText, cap: 22)
    var used = nameColumn.width + 1
    var chosen: Set<String> = []
    for column in optional {
      // Lesser columns go first: none joins once one does not fit.
      // The program column takes its width plus a separating space.
      guard used + column.width + 1 + programWanted + 1 <= width else { break }
      chosen.insert(column.heading)
      used += column.width + 1
    }
    let program = Column(
      heading: "PROGRAM", width: max(0, width - used - 1), value: programText)
    let display = [
      "IDX", "NAME", "DRIVER", "STATE", "XDP", "RX/s", "PROGRAM", "RX/TX", "BUS", "MAC",
    ]
    let all = optional.filter { chosen.contains($0.heading) } + [nameColumn, program]
    return display.compactMap { heading in all.first { $0.heading == heading } }
  }
}
