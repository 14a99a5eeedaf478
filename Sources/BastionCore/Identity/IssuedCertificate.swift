public import Foundation

/// The ledger entry for one certificate Bastion signed.
///
/// Bastion accepts only certificates it finds here (besides a valid CA signature), so a
/// leaked CA key alone does not mint working certificates unnoticed, and an auditor can
/// correlate a serial with who, when and from where.
public struct IssuedCertificate: Sendable, Hashable {
    public var serial: UInt64
    public var user: UserName
    public var keyFingerprint: String
    public var keyID: String
    public var validAfter: Date
    public var validBefore: Date
    public var sourceAddress: String
    public var issuedAt: Date

    public init(
        serial: UInt64, user: UserName, keyFingerprint: String, keyID: String,
        validAfter: Date, validBefore: Date, sourceAddress: String, issuedAt: Date
    ) {
        self.serial = serial
        self.user = user
        self.keyFingerprint = keyFingerprint
        self.keyID = keyID
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.sourceAddress = sourceAddress
        self.issuedAt = issuedAt
    }
}
