internal import COpenSSL

/// The TLS versions Bastion speaks: 1.3, and 1.2 only where an operator opts in for older
/// clients. 1.0 and 1.1 are not representable (RFC 8996 deprecates them).
public enum TLSProtocolVersion: String, Sendable, Equatable, CaseIterable {
    case tls12 = "1.2"
    case tls13 = "1.3"

    var openSSLValue: Int32 {
        switch self {
        case .tls12: TLS1_2_VERSION
        case .tls13: TLS1_3_VERSION
        }
    }
}
