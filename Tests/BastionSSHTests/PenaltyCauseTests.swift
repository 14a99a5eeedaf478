import BastionCore
@testable import BastionSSH
import Testing

/// What a failed key exchange earns its source, from libssh 0.10's error text (each text as
/// seen with a real client or a raw socket in HostileClientTests).
@Suite("Penalty cause of a failed key exchange")
struct PenaltyCauseTests {
    @Test(
        "libssh's words, classified",
        arguments: [
            ("Socket error: Success", false, PenaltyBox.Cause.malformed),  // a banner that is not SSH
            ("", false, .malformed),  // a KEXINIT libssh cannot parse
            ("Packet len too high(4294967280 fffffff0)", false, .malformed),
            ("kex error : no match for method server host key algo: server [ssh-ed25519], client [ssh-rsa]", false, .noAuth),
            ("Socket error: disconnected", false, .noAuth),
            ("Socket error: Connection reset by peer", false, .noAuth),
            ("Timeout connecting to 127.0.0.1", false, .graceExceeded),
            ("Socket error: disconnected", true, .graceExceeded),
            ("something libssh never said", false, .noAuth),
        ]
    )
    func classifies(error: String, pastDeadline: Bool, expected: PenaltyBox.Cause) {
        #expect(FrontDoorConnection.penaltyCause(keyExchangeError: error, pastDeadline: pastDeadline) == expected)
    }
}
