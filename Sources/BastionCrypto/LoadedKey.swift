internal import COpenSSL

/// An OpenSSL `EVP_PKEY` built once and freed with the last value holding it.
///
/// OpenSSL 3 builds a key through its provider machinery (a key-management fetch and an
/// import), which costs more than an Ed25519 signature itself; a CA signs and verifies with
/// the same key for the daemon's lifetime, so its keys are built once.
/// `@unchecked Sendable`: the key is never modified after init, and OpenSSL allows one
/// `EVP_PKEY` to serve concurrent operations that only read it (each with its own context).
final class LoadedKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }
}
