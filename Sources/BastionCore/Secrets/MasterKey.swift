public import BastionCrypto
import Synchronization

/// The key-encryption key ("master key"): it wraps and unwraps data keys and never hands
/// out its own bytes, so it can live in an HSM that does the wrapping itself.
///
/// Every wrapped key is stored with the master key's ``version``, so after a rotation the
/// right version is found for each one (THREATS.md "stolen copy of the data directory": a
/// wrapped key is useless without the key that wrapped it).
public protocol MasterKey: Sendable {
    /// Stored beside every key this one wraps.
    var version: UInt32 { get }
    /// Encrypts `dataKey` under the master key, binding `context` (what the key is for), so a
    /// wrapped key cannot be moved to another purpose.
    func wrap(_ dataKey: SymmetricKey, context: [UInt8]) throws -> [UInt8]
    /// The inverse of ``wrap(_:context:)``; throws on any mismatch, never returns a wrong key.
    func unwrap(_ wrapped: [UInt8], context: [UInt8]) throws -> SymmetricKey
}

/// The `file` provider's master key: 32 bytes read from `master.key`, wrapping in this process
/// with AES-256-GCM.
public struct SoftwareMasterKey: MasterKey {
    public let version: UInt32
    let key: SymmetricKey

    public init(key: SymmetricKey, version: UInt32 = 1) {
        self.key = key
        self.version = version
    }

    public func wrap(_ dataKey: SymmetricKey, context: [UInt8]) throws -> [UInt8] {
        try AESGCM.seal(dataKey.bytes, using: key, authenticating: MasterKeyContext.wrapping(context))
    }

    public func unwrap(_ wrapped: [UInt8], context: [UInt8]) throws -> SymmetricKey {
        try SymmetricKey(bytes: AESGCM.open(wrapped, using: key, authenticating: MasterKeyContext.wrapping(context)))
    }
}

/// The AAD of a key wrap: domain-separated from every other use of AES-GCM under a master key.
public enum MasterKeyContext {
    public static func wrapping(_ context: [UInt8]) -> [UInt8] {
        Array("bastion/wrap/v1/".utf8) + context
    }
}

/// The master key versions this process can use: the current one wraps, every kept one
/// unwraps (decrypt-only after a rotation).
///
/// Shared by every sealer and recorder of the process: a rotation installs the new current
/// version here, and a version this process has not seen (another process rotated) is
/// fetched once through `loader`.
public final class MasterKeyring: Sendable {
    private struct State {
        var current: any MasterKey
        var versions: [UInt32: any MasterKey]
    }

    private let state: Mutex<State>
    private let loader: (@Sendable (UInt32) throws -> any MasterKey)?

    public init(current: any MasterKey, retired: [any MasterKey] = [], loader: (@Sendable (UInt32) throws -> any MasterKey)? = nil) {
        var versions: [UInt32: any MasterKey] = [:]
        for key in retired { versions[key.version] = key }
        versions[current.version] = current
        state = Mutex(State(current: current, versions: versions))
        self.loader = loader
    }

    /// The version that wraps new data keys.
    public var current: any MasterKey { state.withLock { $0.current } }

    /// The versions held in memory, oldest first.
    public var versions: [UInt32] { state.withLock { $0.versions.keys.sorted() } }

    /// Makes `key` usable, and the current one when `asCurrent` (a rotation).
    public func install(_ key: any MasterKey, asCurrent: Bool) {
        state.withLock { state in
            state.versions[key.version] = key
            if asCurrent { state.current = key }
        }
    }

    /// Forgets a destroyed version.
    public func remove(version: UInt32) {
        state.withLock { state in
            if state.current.version != version { state.versions[version] = nil }
        }
    }

    /// The key of `version`; throws if that version is gone (destroyed, or another installation's).
    public func key(version: UInt32) throws -> any MasterKey {
        if let key = state.withLock({ $0.versions[version] }) { return key }
        guard let loader else { throw EnvelopeError("no master key of version \(version)") }
        let key: any MasterKey
        do { key = try loader(version) } catch { throw EnvelopeError("no master key of version \(version): \(error)") }
        install(key, asCurrent: false)
        return key
    }

    /// A fresh data key for one object, and that key wrapped by the current master key.
    public func newDataKey(context: [UInt8]) throws -> (key: SymmetricKey, wrapped: [UInt8], version: UInt32) {
        let key = SymmetricKey.random()
        let current = self.current
        return (key, try current.wrap(key, context: context), current.version)
    }

    /// Unwraps a data key stored with its master key's version.
    public func unwrap(_ wrapped: [UInt8], version: UInt32, context: [UInt8]) throws -> SymmetricKey {
        try key(version: version).unwrap(wrapped, context: context)
    }

    /// `wrapped` (of `version`) wrapped again under the current version: metadata only, the
    /// data the key seals is never touched.
    public func rewrap(_ wrapped: [UInt8], version: UInt32, context: [UInt8]) throws -> (wrapped: [UInt8], version: UInt32) {
        let key = try unwrap(wrapped, version: version, context: context)
        let current = self.current
        return (try current.wrap(key, context: context), current.version)
    }
}

/// A sealed object that cannot be opened; says why without any secret.
public struct EnvelopeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
