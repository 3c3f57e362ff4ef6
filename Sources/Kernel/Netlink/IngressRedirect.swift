/// Every frame arriving on one link handed to another link's receive path,
/// as if it had arrived there: a `clsact` qdisc on the first link and, at
/// its ingress, a `u32` filter matching everything with a `mirred ingress
/// redirect` action (what `tc filter add dev FROM ingress u32 match u32 0
/// 0 action mirred ingress redirect dev TO` makes), over rtnetlink.
///
/// `act_mirred` marks what it redirects, so the receiving link's generic
/// XDP (`netif_receive_generic_xdp`: "Reinjected packets coming from
/// act_mirred or similar should not get XDP generic processing") and its
/// native XDP (which runs in the driver, before) both let it pass: the
/// frame reaches the link's stack, its taps (tcpdump) and its TC hooks.
/// The same filter at the first link's egress (`tc filter add dev FROM
/// egress ...`) does the same for frames sent out of it, through a packet
/// socket bound to it: many with one `sendmmsg` (a TAP's `write` takes
/// one). Such frames never reach the first link's driver (its `tx_packets`
/// stay 0). The qdisc and filters go with the first link.
public enum IngressRedirect {
  // linux/rtnetlink.h, linux/pkt_sched.h, linux/pkt_cls.h, linux/tc_act/tc_mirred.h.
  private static let newQueueingDiscipline: UInt16 = 36  // RTM_NEWQDISC
  private static let newFilter: UInt16 = 44  // RTM_NEWTFILTER
  private static let create: UInt16 = 0x400  // NLM_F_CREATE
  private static let exclusive: UInt16 = 0x200  // NLM_F_EXCL
  private static let classifierActionParent: UInt32 = 0xffff_fff1  // TC_H_CLSACT
  private static let classifierActionHandle: UInt32 = 0xffff_0000  // TC_H_MAKE(TC_H_CLSACT, 0)
  private static let ingressParent: UInt32 = 0xffff_fff2  // TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
  private static let egressParent: UInt32 = 0xffff_fff3  // TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)
  private static let allProtocols: UInt16 = 0x0003  // ETH_P_ALL
  private enum Attribute {
    static let kind: UInt16 = 1  // TCA_KIND
    static let options: UInt16 = 2  // TCA_OPTIONS
    static let u32Selector: UInt16 = 5  // TCA_U32_SEL
    static let u32Actions: UInt16 = 7  // TCA_U32_ACT
    static let actionKind: UInt16 = 1  // TCA_ACT_KIND
    static let actionOptions: UInt16 = 2  // TCA_ACT_OPTIONS
    static let mirredParameters: UInt16 = 2  // TCA_MIRRED_PARMS
  }
  private static let stolen: Int32 = 4  // TC_ACT_STOLEN
  private static let ingressRedirect: Int32 = 3  // TCA_INGRESS_REDIR
  private static let terminal: UInt8 = 1  // TC_U32_TERMINAL

  /// Redirects every frame arriving on `from` (index, name), and every
  /// frame sent out of it, into the receive path of interface `to`.
  public static func install(
    from index: UInt32, name: String, to target: UInt32, targetName: String
  ) throws(SystemCallError) {
    let socket = try NetlinkSocket(protocol: NetlinkSocket.route)
    let flags = NetlinkMessage.acknowledgeFlag | create | exclusive
    _ = try socket.request(
      "add a clsact qdisc to \(name) (RTM_NEWQDISC)", type: newQueueingDiscipline, flags: flags,
      payload: header(index, handle: classifierActionHandle, parent: classifierActionParent)
        + NetlinkAttribute.encode([NetlinkAttribute(type: Attribute.kind, string: "clsact")]))
    let filter: [NetlinkAttribute] = [
      NetlinkAttribute(type: Attribute.kind, string: "u32"),
      NetlinkAttribute(
        type: Attribute.options,
        nested: [
          NetlinkAttribute(type: Attribute.u32Selector, payload: matchEverything),
          NetlinkAttribute(
            type: Attribute.u32Actions,
            nested: [
              NetlinkAttribute(
                type: 1,
                nested: [
                  NetlinkAttribute(type: Attribute.actionKind, string: "mirred"),
                  NetlinkAttribute(
                    type: Attribute.actionOptions,
                    nested: [
                      NetlinkAttribute(
                        type: Attribute.mirredParameters, payload: mirred(to: target))
                    ]),
                ])
            ]),
        ]),
    ]
    // Priority 1, every protocol (in network byte order).
    let info = UInt32(1) << 16 | UInt32(allProtocols.bigEndian)
    _ = try socket.request(
      "redirect \(name)'s frames into \(targetName) (tc filter u32, mirred ingress redirect)",
      type: newFilter, flags: flags,
      payload: header(index, handle: 0, parent: ingressParent, info: info)
        + NetlinkAttribute.encode(filter))
    _ = try socket.request(
      "redirect what is sent out of \(name) into \(targetName) (tc filter u32 at egress, mirred ingress redirect)",
      type: newFilter, flags: flags,
      payload: header(index, handle: 0, parent: egressParent, info: info)
        + NetlinkAttribute.encode(filter))
  }

  /// `struct tcmsg`.
  private static func header(_ index: UInt32, handle: UInt32, parent: UInt32, info: UInt32 = 0)
    -> [UInt8]
  {
    var bytes = [UInt8](repeating: 0, count: 4)  // family AF_UNSPEC, padding
    for word in [index, handle, parent, info] { bytes += withUnsafeBytes(of: word) { Array($0) } }
    return bytes
  }

  /// `struct tc_u32_sel` with one key that every frame matches (mask 0).
  private static var matchEverything: [UInt8] {
    var bytes: [UInt8] = [terminal, 0, 1, 0]  // flags, offshift, nkeys, padding
    bytes += [UInt8](repeating: 0, count: 12)  // offmask, off, offoff, hoff, hmask
    bytes += [UInt8](repeating: 0, count: 16)  // key: mask, val, off, offmask
    return bytes
  }

  /// `struct tc_mirred`: redirect (the frame is taken) to ingress of `target`.
  private static func mirred(to target: UInt32) -> [UInt8] {
    var bytes: [UInt8] = []
    for word in [Int32(0), 0, stolen, 0, 0, ingressRedirect] {  // tc_gen, eaction
      bytes += withUnsafeBytes(of: word) { Array($0) }
    }
    bytes += withUnsafeBytes(of: target) { Array($0) }
    return bytes
  }
}
