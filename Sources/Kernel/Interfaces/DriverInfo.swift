import CLinux
import Glibc

/// What a device's driver says about itself through ethtool
/// (`ETHTOOL_GDRVINFO`, what `ethtool -i` prints).
public struct DriverInfo: Hashable, Codable, Sendable {
  /// The driver (`i40e`, `veth`, `virtio_net`).
  public var driver: String
  /// The driver's version string.
  public var version: String
  /// The firmware version, empty when the driver reports none.
  public var firmware: String
  /// Where the device sits (`0000:3b:00.0`), empty for virtual devices.
  public var busInfo: String

  /// Describes a driver.
  public init(driver: String, version: String = "", firmware: String = "", busInfo: String = "") {
    self.driver = driver
    self.version = version
    self.firmware = firmware
    self.busInfo = busInfo
  }

  /// Asks the driver of interface `name`, through an `AF_INET` datagram
  /// socket. `nil` when the device has no ethtool driver info (`lo`).
  public static func query(interface name: String, socket fd: Int32) -> DriverInfo? {
    var info = ethtool_drvinfo()
    guard clinux_ethtool_drvinfo(fd, name, &info) == 0 else { return nil }
    return DriverInfo(
      driver: cString(info.driver), version: cString(info.version),
      firmware: cString(info.fw_version), busInfo: cString(info.bus_info))
  }

  /// A Swift string from a fixed-size C character array.
  private static func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }
}
