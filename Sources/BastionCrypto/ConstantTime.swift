internal import COpenSSL

/// Compares two byte strings in time independent of where they differ (`CRYPTO_memcmp`),
/// so an attacker timing responses learns nothing about a secret's prefix (TOTP codes,
/// MACs, tokens).
///
/// Different lengths return `false` at once: lengths are not secret in our uses
/// (fixed-size codes and digests).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return CRYPTO_memcmp(a, b, a.count) == 0
}
