/// Target replies: they confirm or fail what the client asked.
extension SFTPSession {
    /// Parses one target packet (without its length); true to forward it (always: the
    /// policy acts on requests).
    mutating func reply(_ packet: UnsafeRawBufferPointer) throws(FormatError) -> Bool {
        var reader = SFTPPacketReader(packet)
        let type = try reader.readUInt8()
        guard type != SFTPWire.PacketType.version else {
            guard !sawVersion else { throw FormatError(.invalidField, "second SSH_FXP_VERSION") }
            let version = try reader.readUInt32()
            // Versions 4 to 6 lay out OPEN and ATTRS differently: parsing them as 3 would
            // let requests through unread.
            guard version == SFTPWire.version else { throw FormatError(.unsupportedType, "SFTP version \(version); Bastion parses version 3") }
            sawVersion = true
            return true
        }
        guard sawVersion else { throw FormatError(.invalidField, "SFTP reply before SSH_FXP_VERSION") }
        let id = try reader.readUInt32()
        guard let request = answered(id) else { return true }
        switch request {
        case .open(let path, let flags):
            let flagsText = SFTPWire.OpenFlag.text(flags)
            if type == SFTPWire.PacketType.handle {
                let handle = try reader.readBytes()
                if let previous = handles[handle] {
                    completed.append(closeOperation(file: previous, failure: "target reused the handle"))
                }
                guard files.count < Self.maximumOpenFiles else {
                    throw FormatError(.invalidField, "more than \(Self.maximumOpenFiles) open SFTP files")
                }
                let file = nextFileID
                nextFileID += 1
                files[file] = SFTPOpenFile(path: path, flags: flags, handle: handle)
                handles[handle] = file
                completed.append(FileOperation(kind: .open, path: path, flags: flagsText))
            } else {
                completed.append(FileOperation(kind: .open, path: path, flags: flagsText, failure: try Self.failureText(type, &reader)))
            }
        case .read(let file, let offset):
            if type == SFTPWire.PacketType.data {
                let data = try reader.readString()
                files[file]?.read(data, at: offset, budget: &budget)
            }
        case .write(let file, let byteCount):
            if try Self.failureText(type, &reader) != nil {
                files[file]?.writeFailed(byteCount: byteCount, budget: &budget)
            }
        case .close(let file):
            completed.append(closeOperation(file: file, failure: try Self.failureText(type, &reader)))
        case .operation(var operation):
            operation.failure = try Self.failureText(type, &reader)
            completed.append(operation)
        }
        return true
    }

    /// nil for `STATUS OK`; otherwise the target's status as audit text.
    private static func failureText(_ type: UInt8, _ reader: inout SFTPPacketReader) throws(FormatError) -> String? {
        guard type == SFTPWire.PacketType.status else { return "unexpected reply type \(type)" }
        let code = try reader.readUInt32()
        guard code != SFTPWire.Status.ok else { return nil }
        // Version 3 servers may leave the message out (draft-02 has none); OpenSSH sends it.
        let message = (try? reader.readPath()) ?? ""
        return message.isEmpty ? "status \(code)" : "\(message) (status \(code))"
    }
}
