/// A host bastiond relays to, as declared in the configuration.
///
/// The host key is pinned here rather than learnt on first use: the relay must refuse a changed
/// key, and trust-on-first-use would let the first connection be the one that is intercepted.
public struct TargetDefinition: Sendable, Equatable {
    public var name: String
    /// A host name or an IP address (IPv6 without brackets).
    public var host: String
    public var port: Int
    /// The pinned host key, `TYPE BASE64` as written (see `PolicyRules.hostKeyProblem`).
    public var hostKey: String
    /// Free-form labels (`env = "prod"`) for listing and, later, for matching.
    public var labels: [String: String]
    /// `token_epoch`: part of the target's sudo-check token (`TargetToken`); bumping it
    /// rotates the token without touching the master key or any other target.
    public var tokenEpoch: Int

    public init(name: String, host: String, port: Int = 22, hostKey: String, labels: [String: String] = [:], tokenEpoch: Int = 1) {
        self.name = name
        self.host = host
        self.port = port
        self.hostKey = hostKey
        self.labels = labels
        self.tokenEpoch = tokenEpoch
    }
}
