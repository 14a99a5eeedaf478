public import BastionCrypto
import Foundation

/// The unencrypted `openssh-key-v1` private key file (OpenSSH PROTOCOL.key), for Ed25519.
///
/// Bastion writes its CA keys in this format so operators can use them with stock tools
/// (`ssh-keygen -s`, `ssh-keygen -y`), and reads keys that `ssh-keygen -t ed25519 -N ''`
/// made. Encrypted files are refused: the key files are protected by file permissions and
/// the host, and a passphrase prompt has no place in a daemon.
public enum OpenSSHPrivateKeyFile {
    static let magic = Array("openssh-key-v1".utf8) + [0]
    static let beginMarker = "-----BEGIN OPENSSH PRIVATE KEY-----"
    static let endMarker = "-----END OPENSSH PRIVATE KEY-----"
    /// ssh-keygen wraps the Base64 body at 70 columns (sshbuf_dtob64 with `wrap`).
    static let lineWidth = 70
    /// The cipher block size of "none": the private section is padded to 8 bytes.
    static let blockSize = 8

    /// Serialises `key` as PROTOCOL.key with cipher and KDF "none".
    public static func encode(_ key: Ed25519PrivateKey, comment: String) -> String {
        let publicKey = SSHPublicKey(ed25519: key.publicKey)

        var section = SSHWireWriter()
        // The two equal check integers let a reader detect a wrong passphrase; unused
        // without encryption, but part of the format. Random, as ssh-keygen makes them.
        let check = UInt32(truncatingIfNeeded: SecureRandom.uint64())
        section.writeUInt32(check)
        section.writeUInt32(check)
        section.writeString("ssh-ed25519")
        section.writeString(key.publicKey.rawRepresentation)
        // OpenSSH stores the 64-byte "private key" of the ref10 API: seed || public key.
        section.writeString(key.seed + key.publicKey.rawRepresentation)
        section.writeString(comment)
        var pad: UInt8 = 1
        while section.bytes.count % blockSize != 0 {
            section.writeUInt8(pad)
            pad += 1
        }

        var file = SSHWireWriter()
        file.writeBytes(magic)
        file.writeString("none")
        file.writeString("none")
        file.writeString([UInt8]())
        file.writeUInt32(1)
        file.writeString(publicKey.blob)
        file.writeString(section.bytes)

        let body = Base64Text.encode(file.bytes)
        var lines = [beginMarker]
        var index = body.startIndex
        while index < body.endIndex {
            let end = body.index(index, offsetBy: lineWidth, limitedBy: body.endIndex) ?? body.endIndex
            lines.append(String(body[index ..< end]))
            index = end
        }
        lines.append(endMarker)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads an unencrypted Ed25519 key file and checks that the stored public key is the
    /// one the seed derives, so a corrupted or spliced file is refused.
    public static func decodeEd25519(_ text: String) throws(FormatError) -> Ed25519PrivateKey {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(of: beginMarker),
              let end = lines.lastIndex(of: endMarker), begin < end
        else {
            throw FormatError(.invalidField, "missing OPENSSH PRIVATE KEY markers")
        }
        let bytes = try Base64Text.decode(lines[(begin + 1) ..< end].joined())
        guard bytes.starts(with: magic) else {
            throw FormatError(.invalidField, "not an openssh-key-v1 file")
        }
        var reader = SSHWireReader(bytes)
        _ = try reader.readBytes(magic.count)
        let cipher = try reader.readUTF8String()
        let kdf = try reader.readUTF8String()
        _ = try reader.readString()
        guard cipher == "none", kdf == "none" else {
            throw FormatError(.unsupportedPrivateKey, "encrypted key files are not supported (cipher \(cipher))")
        }
        guard try reader.readUInt32() == 1 else {
            throw FormatError(.unsupportedPrivateKey, "files with several keys are not supported")
        }
        let publicBlob = try reader.readString()
        let sectionBytes = try reader.readString()
        try reader.expectEnd()
        guard sectionBytes.count % blockSize == 0 else {
            throw FormatError(.invalidField, "private section is not padded to the block size")
        }

        var section = SSHWireReader(sectionBytes)
        guard try section.readUInt32() == section.readUInt32() else {
            throw FormatError(.invalidField, "check integers differ")
        }
        let type = try section.readUTF8String()
        guard type == "ssh-ed25519" else {
            throw FormatError(.unsupportedPrivateKey, "key type \(type) is not ssh-ed25519")
        }
        let publicRaw = try section.readString()
        let privateRaw = try section.readString()
        _ = try section.readString()
        // Padding is 1, 2, 3, ... (PROTOCOL.key); anything else means corruption.
        var expected: UInt8 = 1
        while !section.isAtEnd {
            guard try section.readUInt8() == expected else {
                throw FormatError(.invalidField, "bad padding in private section")
            }
            expected &+= 1
        }
        guard privateRaw.count == 64, publicRaw.count == 32 else {
            throw FormatError(.invalidField, "ed25519 key fields have wrong sizes")
        }
        let key: Ed25519PrivateKey
        do {
            key = try Ed25519PrivateKey(seed: Array(privateRaw.prefix(32)))
        } catch {
            throw FormatError(.invalidKey, "\(error)")
        }
        let derived = key.publicKey.rawRepresentation
        guard derived == publicRaw, Array(privateRaw.suffix(32)) == derived,
              publicBlob == SSHPublicKey(ed25519: key.publicKey).blob
        else {
            throw FormatError(.invalidKey, "stored public key does not match the private key")
        }
        return key
    }
}
