import BastionCore
import BastionSIEM
import Foundation

/// Audit events the SIEM tests format, with every block filled in where it matters.
enum SIEMTestEvents {
    /// 2026-11-22T…; .125 is exact in binary, so the milliseconds are 125 on every platform.
    static let time = Date(timeIntervalSince1970: 1_795_390_000.125)
    static let id = EventID(installation: "bastion01", seq: 42)

    static let sessionStart = AuditEvent(
        type: .sessionStart, time: time,
        actor: .init(user: "alice", method: "publickey+totp", keyFingerprint: "SHA256:abc", certificateSerial: "7"),
        connection: .init(id: "c-1", remoteAddress: "192.0.2.10", remotePort: 50022, sshUsername: "root@web01"),
        session: .init(id: "s-1", login: "root"), target: "web01", details: ["kind": "shell", "command": ""]
    )

    static let authFailed = AuditEvent(
        type: .authFailed, time: time, outcome: .failure, actor: .init(user: "mallory", method: "publickey"),
        connection: .init(id: "c-2", remoteAddress: "2001:db8::1", remotePort: 4242), reason: "wrong code"
    )

    static let userLock = AuditEvent(
        type: .userLock, time: time, actor: .init(user: "root", method: "admin-cli"), target: "bob"
    )

    /// Every character the formats must escape, plus multi-byte UTF-8.
    static let hostile = AuditEvent(
        type: .commandDenied, time: time, outcome: .failure, actor: .init(user: "zoë"),
        reason: #"a|b=c\d"e]f"# + "\nline two", details: ["command": "rm -rf \"/x]\" ✓ 日本"]
    )
}
