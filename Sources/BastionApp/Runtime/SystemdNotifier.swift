#if canImport(Glibc)
import Glibc
#endif

/// systemd's readiness protocol (sd_notify(3)) without libsystemd: each message is one
/// datagram of `KEY=VALUE` lines sent to the AF_UNIX socket named by `$NOTIFY_SOCKET`
/// (a leading `@` means Linux's abstract namespace).
///
/// `Type=notify` waits for `READY=1`; `WatchdogSec` expects `WATCHDOG=1` within each period
/// and restarts the unit otherwise; `RELOADING=1` / `READY=1` bracket a reload.
public struct SystemdNotifier: Sendable {
    private let address: [UInt8]
    /// `$WATCHDOG_USEC` as seconds, when systemd asked this process for a watchdog.
    public let watchdogInterval: Double?

    /// Nil when the process was not started by systemd with `Type=notify` (no `NOTIFY_SOCKET`).
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.utf8.count < 108 else { return nil }
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        address = bytes
        // WATCHDOG_PID, when present, names the process the watchdog is for (not a child).
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
            environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true
        {
            watchdogInterval = usec / 1_000_000
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends `fields` as one message; false when it could not be sent (systemd gone).
    @discardableResult
    public func send(_ fields: [String]) -> Bool {
        let message = Array(fields.map { $0.replacingNewlines() }.joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &target.sun_path) { path in
            for (index, byte) in address.enumerated() { path[index] = byte }
        }
        // An abstract name's length is exact (no terminating NUL); a path's includes none either.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        return sent == message.count
    }
}

extension String {
    /// A `STATUS=` value must stay on its line.
    fileprivate func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
