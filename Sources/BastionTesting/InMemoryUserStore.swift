public import BastionCore
public import Foundation
import Synchronization

/// ``UserStore`` and ``CertificateLedger`` in memory, for unit tests of domain logic.
/// The SQLite implementation has its own tests against the real database.
public final class InMemoryUserStore: UserStore, CertificateLedger {
    private struct State {
        var users: [UserName: User] = [:]
        var keys: [UserName: [SSHPublicKey]] = [:]
        var totp: [UserName: TOTPState] = [:]
        var certificates: [UInt64: IssuedCertificate] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func createUser(_ user: User, key: SSHPublicKey, sealedTOTPSecret: [UInt8]) throws {
        try state.withLock { state in
            guard state.users[user.name] == nil else { throw StoreError(.conflict, "user \(user.name) already exists") }
            guard !state.keys.values.contains(where: { $0.contains(key) }) else { throw StoreError(.conflict, "key already enrolled") }
            state.users[user.name] = user
            state.keys[user.name] = [key]
            state.totp[user.name] = TOTPState(sealedSecret: sealedTOTPSecret)
        }
    }

    public func user(named name: UserName) throws -> User? { state.withLock { $0.users[name] } }
    public func allUsers() throws -> [User] { state.withLock { $0.users.values.sorted { $0.name < $1.name } } }

    public func removeUser(named name: UserName) throws -> Bool {
        state.withLock { state in
            state.keys[name] = nil
            state.totp[name] = nil
            return state.users.removeValue(forKey: name) != nil
        }
    }

    public func setLocked(_ locked: Bool, for name: UserName) throws -> Bool {
        state.withLock { state in
            guard state.users[name] != nil else { return false }
            state.users[name]?.isLocked = locked
            return true
        }
    }

    public func addKey(_ key: SSHPublicKey, to name: UserName, at date: Date) throws {
        try state.withLock { state in
            guard state.users[name] != nil else { throw StoreError(.notFound, "no user \(name)") }
            guard !state.keys.values.contains(where: { $0.contains(key) }) else { throw StoreError(.conflict, "key already enrolled") }
            state.keys[name, default: []].append(key)
        }
    }

    public func keys(of name: UserName) throws -> [SSHPublicKey] { state.withLock { $0.keys[name] ?? [] } }

    public func owner(of key: SSHPublicKey) throws -> UserName? {
        state.withLock { $0.keys.first { $0.value.contains(key) }?.key }
    }

    public func totpState(of name: UserName) throws -> TOTPState? { state.withLock { $0.totp[name] } }

    public func replaceTOTPSecret(of name: UserName, sealedSecret: [UInt8]) throws {
        try state.withLock { state in
            guard state.totp[name] != nil else { throw StoreError(.notFound, "no user \(name)") }
            state.totp[name] = TOTPState(sealedSecret: sealedSecret)
        }
    }

    public func resealTOTPSecret(of name: UserName, from old: [UInt8], to new: [UInt8]) throws -> Bool {
        state.withLock { state in
            guard state.totp[name]?.sealedSecret == old else { return false }
            state.totp[name]?.sealedSecret = new
            return true
        }
    }

    public func clearFailures(of name: UserName) throws {
        state.withLock { state in
            state.totp[name]?.consecutiveFailures = 0
            state.totp[name]?.lockedUntil = nil
        }
    }

    public func consumeTOTPStep(_ step: Int64, for name: UserName) throws -> Bool {
        state.withLock { state in
            guard var totp = state.totp[name], totp.lastUsedStep.map({ $0 < step }) ?? true else { return false }
            totp.lastUsedStep = step
            totp.consecutiveFailures = 0
            totp.lockedUntil = nil
            state.totp[name] = totp
            return true
        }
    }

    public func recordTOTPFailure(for name: UserName, now: Date, maxFailures: Int, lockout: TimeInterval) throws -> TOTPState {
        try state.withLock { state in
            guard var totp = state.totp[name] else { throw StoreError(.notFound, "no user \(name)") }
            totp.consecutiveFailures += 1
            if totp.consecutiveFailures >= maxFailures { totp.lockedUntil = now.addingTimeInterval(lockout) }
            state.totp[name] = totp
            return totp
        }
    }

    public func record(_ certificate: IssuedCertificate) throws {
        try state.withLock { state in
            guard state.certificates[certificate.serial] == nil else { throw StoreError(.conflict, "duplicate serial") }
            state.certificates[certificate.serial] = certificate
        }
    }

    public func certificate(serial: UInt64) throws -> IssuedCertificate? { state.withLock { $0.certificates[serial] } }
}

/// An audit log in memory; `failing` makes every append throw (a full disk, a dead database).
public final class RecordingAuditEmitter: AuditEmitter {
    private let events = Mutex<[AuditEvent]>([])
    private let failing = Atomic<Bool>(false)

    public init() {}

    public var recorded: [AuditEvent] { events.withLock { $0 } }

    public func setFailing(_ value: Bool) { failing.store(value, ordering: .relaxed) }

    public func append(_ event: AuditEvent) throws {
        if failing.load(ordering: .relaxed) { throw StoreError(.unavailable, "audit log unavailable (test)") }
        events.withLock { $0.append(event) }
    }
}
