public import Foundation

/// Users, their enrolled keys and their TOTP state.
///
/// Implementations must make ``consumeTOTPStep(_:for:)`` and ``recordTOTPFailure(for:now:maxFailures:lockout:)``
/// atomic across processes: the admin CLI and the daemon (and several nodes) share
/// one database, and a TOTP code must never be accepted twice.
public protocol UserStore: Sendable {
    /// Creates the user with one enrolled key and a sealed TOTP secret.
    /// Throws ``StoreError/conflict`` if the name exists or the key belongs to someone.
    func createUser(_ user: User, key: SSHPublicKey, sealedTOTPSecret: [UInt8]) throws
    func user(named name: UserName) throws -> User?
    func allUsers() throws -> [User]
    /// Removes the user, their keys and TOTP state. Returns false if there was no such user.
    func removeUser(named name: UserName) throws -> Bool
    /// Returns false if there was no such user.
    func setLocked(_ locked: Bool, for name: UserName) throws -> Bool
    /// Throws ``StoreError/conflict`` if the key is already enrolled (for anyone).
    func addKey(_ key: SSHPublicKey, to name: UserName, at date: Date) throws
    func keys(of name: UserName) throws -> [SSHPublicKey]
    /// Who enrolled this key, if anyone (keys are unique across users).
    func owner(of key: SSHPublicKey) throws -> UserName?
    func totpState(of name: UserName) throws -> TOTPState?
    /// Replaces the TOTP secret and clears replay and failure state.
    func replaceTOTPSecret(of name: UserName, sealedSecret: [UInt8]) throws
    /// Replaces the sealed secret with the same secret sealed anew (a master key rotation's
    /// re-wrap), only if it is still `old`, keeping the replay and failure state: a code used
    /// before the re-wrap stays used. Returns false if the secret changed meanwhile.
    func resealTOTPSecret(of name: UserName, from old: [UInt8], to new: [UInt8]) throws -> Bool
    /// Clears the consecutive-failure counter and any lockout (`user unlock`).
    func clearFailures(of name: UserName) throws
    /// Atomically accepts `step` only if it is later than every step used before, and
    /// clears the failure counter. Returns false for a replay.
    func consumeTOTPStep(_ step: Int64, for name: UserName) throws -> Bool
    /// Atomically counts one wrong code; at `maxFailures` consecutive failures sets
    /// `lockedUntil = now + lockout`. Returns the updated state.
    func recordTOTPFailure(for name: UserName, now: Date, maxFailures: Int, lockout: TimeInterval) throws -> TOTPState
}

/// The ledger of certificates Bastion issued.
public protocol CertificateLedger: Sendable {
    /// Throws ``StoreError/conflict`` on a duplicate serial.
    func record(_ certificate: IssuedCertificate) throws
    func certificate(serial: UInt64) throws -> IssuedCertificate?
}

/// A failure of the storage layer (not a denial: denials are values).
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let conflict = Code(name: "conflict")
        public static let notFound = Code(name: "notFound")
        public static let unavailable = Code(name: "unavailable")
        public static let corrupt = Code(name: "corrupt")
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }
}
