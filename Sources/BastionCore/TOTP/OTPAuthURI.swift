/// The `otpauth://` URI that authenticator apps scan from a QR code (Google
/// Authenticator "Key Uri Format", the de facto standard).
public struct OTPAuthURI: Sendable {
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
    ///
    /// The issuer appears both as the label prefix and as a parameter, as the format
    /// recommends for older and newer apps alike. Label parts and values are
    /// percent-encoded (RFC 3986 §2.1), leaving only unreserved characters literal.
    public static func totp(account: String, secret: TOTPSecret, issuer: String = "Bastion", digits: Int = 6, period: Int = 30) -> String {
        let label = percentEncode(issuer) + ":" + percentEncode(account)
        return "otpauth://totp/\(label)?secret=\(secret.base32)&issuer=\(percentEncode(issuer))"
            + "&algorithm=SHA1&digits=\(digits)&period=\(period)"
    }

    /// Percent-encodes everything outside RFC 3986 §2.3 "unreserved", byte by byte of UTF-8.
    static func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A") ... UInt8(ascii: "Z"), UInt8(ascii: "a") ... UInt8(ascii: "z"),
                 UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(hex[Int(byte >> 4)])
                output.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return output
    }
}
