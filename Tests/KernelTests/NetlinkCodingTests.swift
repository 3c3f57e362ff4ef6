import Testing

@testable import Deployment
@testable import Kernel

@Suite struct NetlinkCodingTests {
  @Test func attributesRoundTripWithPaddingAndNesting() {
    let inner = [
      NetlinkAttribute(type: 1, int32: -1), NetlinkAttribute(type: 3, uint32: 4),
    ]
    let attributes = [
      NetlinkAttribute(type: 3, string: "veth0"),
      NetlinkAttribute(type: 43, nested: inner),
      NetlinkAttribute(type: 16, payload: [6]),
    ]
    let bytes = NetlinkAttribute.encode(attributes)
    #expect(bytes.count % 4 == 0)
    let decoded = NetlinkAttribute.decode(bytes)
    #expect(decoded == attributes)
    #expect(decoded[type: 3]?.string == "veth0")
    #expect(decoded[type: 43]?.nested[type: 1]?.uint32 == UInt32.max)
    #expect(decoded[type: 16]?.uint8 == 6)
  }

  @Test func messagesSplitFromOneDatagram() {
    let first = NetlinkMessage(type: 16, flags: 2, sequence: 7, payload: [1, 2, 3])
    let done = NetlinkMessage(
      type: NetlinkMessage.doneType, flags: 2, sequence: 7, payload: [0, 0, 0, 0])
    let decoded = NetlinkMessage.decode(first.encoded + done.encoded)
    #expect(decoded.count == 2)
    #expect(decoded[0].payload.prefix(3) == [1, 2, 3])
    #expect(decoded[1].type == NetlinkMessage.doneType)
  }

  @Test func errorReplyCarriesErrno() {
    let reply = NetlinkMessage(
      type: NetlinkMessage.errorType, flags: 0, payload: [0xfe, 0xff, 0xff, 0xff])
    #expect(reply.errorCode == 2)
  }

  @Test func malformedAttributeStopsParsing() {
    // Length 200 exceeds the buffer: nothing past the valid prefix is read.
    let valid = NetlinkAttribute(type: 1, uint32: 5).encoded
    let decoded = NetlinkAttribute.decode(valid + [200, 0, 1, 0, 9])
    #expect(decoded.count == 1)
  }

  @Test func xdpAttachmentStateReadsSingleAndMultiModes() {
    let single = XDPAttachmentState(netlink: [
      NetlinkAttribute(type: 2, payload: [2]), NetlinkAttribute(type: 4, uint32: 99),
    ])
    #expect(single.programs.map(\.mode) == [.generic])
    #expect(single.programs.map(\.id) == [99])
    let multi = XDPAttachmentState(netlink: [
      NetlinkAttribute(type: 2, payload: [4]), NetlinkAttribute(type: 5, uint32: 10),
      NetlinkAttribute(type: 6, uint32: 11),
    ])
    #expect(multi.programs.map(\.mode) == [.native, .generic])
  }

  @Test func featureNames() {
    let features = XDPFeatures(rawValue: 1 | 2 | 8)
    #expect(features.names == ["basic", "redirect", "xsk-zerocopy"])
    // NETDEV_XDP_ACT_BATCH of the batch patches (kernel/patches).
    let batch = XDPFeatures(rawValue: 1 | 1 << 7)
    #expect(batch.contains(.batch))
    #expect(batch.names == ["basic", "batch"])
  }
}
