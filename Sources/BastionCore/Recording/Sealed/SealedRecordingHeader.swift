internal import BastionCrypto

/// The header of a sealed recording: what a key provider needs to unwrap the file's data key.
///
/// ```
/// magic[8] ‖ bodyLength:u32 ‖ body
/// body = formatVersion:u16 ‖ masterKeyVersion:u32 ‖ wrappedKeyLength:u16 ‖ wrappedKey ‖ fileID[16]
/// ```
/// The header is stored in the clear (the wrapped key is useless without the master key)
/// but not trusted on its own: its SHA-256 is in every chunk's AAD, so a header swapped in
/// from another file, or edited to point at another master key, fails at the first chunk.
/// Parsing is strict (the body must be consumed exactly) so one header has one encoding
/// and therefore one hash.
public struct SealedRecordingHeader: Hashable, Sendable {
    /// `BASTREC` and a NUL: the NUL marks the file as binary to text tools and can never
    /// start a JSON document, so a sealed file is never mistaken for a plaintext `.cast`.
    /// The format version lives in the authenticated body, so the magic never changes.
    public static let magic: [UInt8] = Array("BASTREC".utf8) + [0]
    /// The only version this build reads and writes: AES-256-GCM chunks as in `SealedRecording`.
    public static let currentFormatVersion: UInt16 = 1
    /// The random per-file salt: 128 bits, so two files never share one by chance.
    public static let fileIDByteCount = 16
    /// Room for an RSA-4096 or HSM-wrapped key; bounds what a reader accepts.
    public static let maximumWrappedKeyByteCount = 1024
    /// A larger body length is refused at once, not waited for. Version-1 bodies are at
    /// most 1,048 bytes; the slack lets this build report a later version's larger header
    /// as `.unsupportedVersion` rather than as malformed.
    static let maximumBodyByteCount = 64 << 10
    /// Bytes before the body: magic and body length.
    static let prefixByteCount = 8 + 4

    public let formatVersion: UInt16
    /// Version of the master key that wrapped the data key, so rotation knows which to ask for.
    public let masterKeyVersion: UInt32
    /// The data key as the key provider wrapped it; opaque here (could be an HSM's output).
    public let wrappedKey: [UInt8]
    /// Random per file; the salt of the chunk-key derivation.
    public let fileID: [UInt8]
    /// The header exactly as stored in the file.
    public let encoded: [UInt8]
    /// SHA-256 of `encoded`, bound into every chunk's AAD.
    public let sha256: [UInt8]

    /// The header's length in the file; chunks start here.
    public var byteCount: Int { encoded.count }

    /// A version-1 header for a new file.
    public init(masterKeyVersion: UInt32, wrappedKey: [UInt8], fileID: [UInt8]) throws(SealedRecordingError) {
        guard (1 ... Self.maximumWrappedKeyByteCount).contains(wrappedKey.count) else {
            throw SealedRecordingError(.invalidUse, "wrapped key must be 1...\(Self.maximumWrappedKeyByteCount) bytes, got \(wrappedKey.count)")
        }
        guard fileID.count == Self.fileIDByteCount else {
            throw SealedRecordingError(.invalidUse, "file ID must be \(Self.fileIDByteCount) bytes, got \(fileID.count)")
        }
        var body = SealedRecording.bigEndianBytes(UInt64(Self.currentFormatVersion), width: 2)
        body += SealedRecording.bigEndianBytes(UInt64(masterKeyVersion), width: 4)
        body += SealedRecording.bigEndianBytes(UInt64(wrappedKey.count), width: 2)
        body += wrappedKey
        body += fileID
        let encoded = Self.magic + SealedRecording.bigEndianBytes(UInt64(body.count), width: 4) + body
        self.init(formatVersion: Self.currentFormatVersion, masterKeyVersion: masterKeyVersion,
                  wrappedKey: wrappedKey, fileID: fileID, encoded: encoded)
    }

    private init(formatVersion: UInt16, masterKeyVersion: UInt32, wrappedKey: [UInt8], fileID: [UInt8], encoded: [UInt8]) {
        self.formatVersion = formatVersion
        self.masterKeyVersion = masterKeyVersion
        self.wrappedKey = wrappedKey
        self.fileID = fileID
        self.encoded = encoded
        self.sha256 = SHA256.hash(encoded)
    }

    /// Parses the header at the start of `bytes`; `nil` when more bytes are needed (a live
    /// file, or one cut inside its header). The header's length is `byteCount`.
    public static func parse(_ bytes: [UInt8]) throws(SealedRecordingError) -> SealedRecordingHeader? {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(SealedRecordingError) in try parse(raw) }
        }.get()
    }

    /// Parses the header at the start of `bytes`; `nil` when more bytes are needed.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(SealedRecordingError) -> SealedRecordingHeader? {
        // Check the magic on whatever prefix is present, so a plaintext file fails at once.
        let seen = min(bytes.count, magic.count)
        guard bytes.prefix(seen).elementsEqual(magic.prefix(seen)) else {
            throw SealedRecordingError(.malformedHeader, at: 0, "not a sealed recording (bad magic)")
        }
        guard let bodyLength = SealedRecording.bigEndian(bytes, at: magic.count, width: 4) else { return nil }
        guard bodyLength <= UInt64(maximumBodyByteCount) else {
            throw SealedRecordingError(.malformedHeader, at: magic.count, "header body length \(bodyLength) exceeds \(maximumBodyByteCount)")
        }
        let total = prefixByteCount + Int(bodyLength)
        guard bytes.count >= total else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[prefixByteCount ..< total])

        func malformed(_ detail: String) -> SealedRecordingError {
            SealedRecordingError(.malformedHeader, at: prefixByteCount, detail)
        }
        guard let version = SealedRecording.bigEndian(body, at: 0, width: 2) else { throw malformed("body too short for a version") }
        guard version == UInt64(currentFormatVersion) else {
            throw SealedRecordingError(.unsupportedVersion, at: prefixByteCount, "format version \(version)")
        }
        guard let masterKeyVersion = SealedRecording.bigEndian(body, at: 2, width: 4),
              let wrappedLength = SealedRecording.bigEndian(body, at: 6, width: 2)
        else { throw malformed("body too short for key fields") }
        let wrappedCount = Int(wrappedLength)
        guard (1 ... maximumWrappedKeyByteCount).contains(wrappedCount) else {
            throw malformed("wrapped key length \(wrappedCount) out of range")
        }
        // Exact size: no trailing bytes, so the encoding (and its hash) is canonical.
        guard body.count == 8 + wrappedCount + fileIDByteCount else {
            throw malformed("body is \(body.count) bytes, expected \(8 + wrappedCount + fileIDByteCount)")
        }
        return SealedRecordingHeader(
            formatVersion: UInt16(version),
            masterKeyVersion: UInt32(masterKeyVersion),
            wrappedKey: Array(body[8 ..< 8 + wrappedCount]),
            fileID: Array(body[(8 + wrappedCount)...]),
            encoded: Array(bytes[0 ..< total])
        )
    }
}
