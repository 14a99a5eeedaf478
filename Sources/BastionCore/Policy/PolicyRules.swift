#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The rules a policy's names and values must follow, in one place so that the configuration
/// loader and anything else that builds a `Policy` refuse the same things.
public enum PolicyRules {
    /// The longest certificate bastiond issues, whatever a role says: 24 hours.
    ///
    /// Certificates are short-lived by design. Revoking or locking a user takes effect at once
    /// only because bastiond is the sole verifier; a short lifetime bounds the damage if that
    /// ever stops being true (a leaked CA trust line, a copied certificate).
    public static let maximumCertificateTTL: TimeInterval = 24 * 3_600

    /// The OpenSSH certificate extensions a role may grant (PROTOCOL.certkeys, "Extensions").
    public static let certificateExtensions: [String] = [
        "permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty", "permit-user-rc",
    ]

    /// What a role grants when it lists no extensions: a terminal, nothing else.
    public static let defaultExtensions: [String] = ["permit-pty"]

    /// The host key types a target may pin (the OpenSSH public key algorithms libssh supports).
    public static let hostKeyTypes: [String] = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
    ]

    /// Whether `name` is a valid role or target name: `^[A-Za-z0-9_.-]+$`.
    ///
    /// Target names appear in the SSH user name `LOGIN@TARGET`, so they must not contain `@`,
    /// spaces or anything a shell or a log line would treat specially.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { isNameByte($0) }
    }

    /// Whether `pattern` is a valid target name or glob: a name that may also hold `*` and `?`.
    public static func isValidTargetPattern(_ pattern: String) -> Bool {
        if let selector = LabelSelector(pattern) {
            return isValidName(selector.key) && !selector.value.isEmpty
                && selector.value.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
        }
        return !pattern.isEmpty && pattern.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
    }

    /// Whether `login` is a valid login on a target: `^[a-z_][a-z0-9_.-]{0,31}$`, the portable
    /// subset of Debian's `useradd` user names (NAME_REGEX), at most 32 bytes.
    public static func isValidLogin(_ login: String) -> Bool {
        let bytes = Array(login.utf8)
        guard let first = bytes.first, bytes.count <= 32 else { return false }
        guard isLower(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.dropFirst().allSatisfy {
            isLower($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    /// Why `text` is not a usable pinned host key, or `nil` when it is one.
    ///
    /// Expects `TYPE BASE64` as in `known_hosts` or a `.pub` file (a trailing comment is
    /// refused: the pin is compared as written). The blob's first SSH string (RFC 4253 §6.6)
    /// must repeat TYPE, which catches a key pasted with the wrong type or a truncated blob.
    public static func hostKeyProblem(_ text: String) -> String? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        if parts.count > 2 { return "expected \"TYPE BASE64\" only (remove the comment after the key)" }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            return "expected \"TYPE BASE64\", like \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…\""
        }
        let type = String(parts[0])
        guard hostKeyTypes.contains(type) else {
            return "unsupported key type \"\(type)\" (allowed: \(hostKeyTypes.joined(separator: ", ")))"
        }
        guard let blob = Data(base64Encoded: String(parts[1])) else { return "key is not valid base64" }
        guard blob.count >= 4 else { return "key blob is too short" }
        let bytes = Array(blob)
        let length = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard bytes.count >= 4 + length, bytes[4..<(4 + length)].elementsEqual(type.utf8) else {
            return "key blob does not start with its type \"\(type)\""
        }
        guard bytes.count > 4 + length else { return "key blob holds no key after its type" }
        return nil
    }

    private static func isLower(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isNameByte(_ byte: UInt8) -> Bool {
        isLower(byte) || isDigit(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }
}
