import BastionCore
import BastionCrypto
import Foundation
import Testing

@Suite("HOTP / TOTP (RFC 4226, RFC 6238)")
struct TOTPTests {
    /// The RFC 4226 Appendix D and RFC 6238 Appendix B SHA-1 secret.
    static let rfcSecret = Array("12345678901234567890".utf8)

    @Test("RFC 4226 Appendix D HOTP values", arguments: Array(zip(0 ... 9, [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
    ])))
    func hotpVectors(counter: Int, expected: String) {
        #expect(HOTP.code(secret: Self.rfcSecret, counter: UInt64(counter)) == expected)
    }

    @Test("RFC 6238 Appendix B SHA-1 values (8 digits)", arguments: [
        (59.0, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"), (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ])
    func totpVectors(time: Double, expected: String) {
        let totp = TOTP(secret: TOTPSecret(bytes: Self.rfcSecret), digits: 8)
        let date = Date(timeIntervalSince1970: time)
        #expect(totp.code(atStep: totp.step(at: date)) == expected)
    }

    @Test("6-digit codes equal oathtool --totp for several times")
    func matchesOathtool() throws {
        let oathtool = "/usr/bin/oathtool"
        guard KeysTestTool.isInstalled(oathtool) else {
            Issue.record("oathtool is not installed at \(oathtool): install the oathtool package to run this cross-check")
            return
        }
        let secret = TOTPSecret.random()
        let totp = TOTP(secret: secret)
        for time in [0, 59, 1_111_111_109, 1_700_000_000, Int(Date().timeIntervalSince1970)] {
            let output = try KeysTestTool.check(oathtool, ["--totp", "-b", secret.base32, "--now", "@\(time)"])
            let expected = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(totp.code(atStep: totp.step(at: Date(timeIntervalSince1970: Double(time)))) == expected, "t=\(time)")
        }
    }

    @Test("A step at or before the last used step is never accepted again")
    func replay() {
        let totp = TOTP(secret: TOTPSecret.random())
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let step = totp.step(at: now)
        let code = totp.code(atStep: step)
        #expect(totp.matchingStep(for: code, at: now, skewSteps: 1, after: nil) == step)
        #expect(totp.matchingStep(for: code, at: now, skewSteps: 1, after: step - 1) == step)
        #expect(totp.matchingStep(for: code, at: now, skewSteps: 1, after: step) == nil)
        #expect(totp.matchingStep(for: code, at: now, skewSteps: 1, after: step + 1) == nil)
        // The previous step's code, still inside the skew window, is refused once a later
        // step was used.
        let previous = totp.code(atStep: step - 1)
        #expect(totp.matchingStep(for: previous, at: now, skewSteps: 1, after: nil) == step - 1)
        #expect(totp.matchingStep(for: previous, at: now, skewSteps: 1, after: step) == nil)
    }

    @Test("Skew of ±1 step is accepted, ±2 refused")
    func skew() {
        let totp = TOTP(secret: TOTPSecret.random())
        let now = Date(timeIntervalSince1970: 1_700_000_015)
        let step = totp.step(at: now)
        for offset: Int64 in [-1, 0, 1] {
            #expect(totp.matchingStep(for: totp.code(atStep: step + offset), at: now, skewSteps: 1, after: nil) == step + offset)
        }
        for offset: Int64 in [-2, 2] {
            let code = totp.code(atStep: step + offset)
            // Guard against the 1-in-a-million chance that the far code equals a near one.
            let collides = (-1 ... 1).contains { totp.code(atStep: step + Int64($0)) == code }
            if !collides {
                #expect(totp.matchingStep(for: code, at: now, skewSteps: 1, after: nil) == nil)
            }
        }
        #expect(totp.matchingStep(for: totp.code(atStep: step + 1), at: now, skewSteps: 0, after: nil) == nil)
    }

    @Test("Codes that are not exactly `digits` ASCII digits are refused", arguments: [
        "", "12345", "1234567", "12345a", " 123456", "123456 ", "１２３４５６", "+12345", "-12345", "12 456",
    ])
    func malformedCodes(code: String) {
        let totp = TOTP(secret: TOTPSecret(bytes: Self.rfcSecret))
        #expect(totp.matchingStep(for: code, at: Date(timeIntervalSince1970: 59), skewSteps: 1, after: nil) == nil)
    }

    @Test("Base32 round trip and RFC 4648 §10 vectors")
    func base32() throws {
        let vectors = [("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI")]
        for (plain, encoded) in vectors {
            #expect(TOTPSecret(bytes: Array(plain.utf8)).base32 == encoded)
            #expect(try TOTPSecret(base32: encoded).bytes == Array(plain.utf8))
        }
        for _ in 0 ..< 20 {
            let secret = TOTPSecret.random()
            #expect(secret.bytes.count == 20)
            #expect(secret.base32.count == 32)
            #expect(try TOTPSecret(base32: secret.base32).bytes == secret.bytes)
            #expect(try TOTPSecret(base32: secret.base32.lowercased()).bytes == secret.bytes)
        }
        #expect(try TOTPSecret(base32: "mzxw 6ytb oi======").bytes == Array("foobar".utf8))
        #expect(try TOTPSecret(base32: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").bytes == Self.rfcSecret)
        for bad in ["", "M", "MZX", "MZXW6Y", "MZ1", "MZ=X", "MZ!Q", "MZ"] {
            #expect(throws: FormatError.self, "\(bad)") { try TOTPSecret(base32: bad) }
        }
        #expect(String(describing: TOTPSecret.random()) == "TOTPSecret(redacted)")
    }

    @Test("otpauth:// URI for authenticator apps")
    func otpauthURI() throws {
        let secret = try TOTPSecret(base32: "JBSWY3DPEHPK3PXP")
        #expect(OTPAuthURI.totp(account: "alice", secret: secret)
            == "otpauth://totp/Bastion:alice?secret=JBSWY3DPEHPK3PXP&issuer=Bastion&algorithm=SHA1&digits=6&period=30")
        #expect(OTPAuthURI.totp(account: "bob smith@corp/x", secret: secret, issuer: "ACME Ops")
            == "otpauth://totp/ACME%20Ops:bob%20smith%40corp%2Fx?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Ops&algorithm=SHA1&digits=6&period=30")
    }
}
