/// Client requests: the policy decides, then the request is remembered for its reply.
extension SFTPSession {
    /// OpenSSH extensions that read or only touch handles already vetted: allowed under every
    /// policy but `deny`. Extensions not listed pass only under `allow` (fail closed: an
    /// unknown extension may modify files).
    static let readOnlyExtensions: Set<String> = [
        "statvfs@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com", "expand-path@openssh.com",
        "home-directory", "users-groups-by-id@openssh.com", "fsync@openssh.com",
    ]

    /// Parses one client packet (without its length); true to forward it.
    mutating func request(_ packet: UnsafeRawBufferPointer) throws(FormatError) -> Bool {
        var reader = SFTPPacketReader(packet)
        let type = try reader.readUInt8()
        guard type != SFTPWire.PacketType.initialize else {
            guard !sawInit else { throw FormatError(.invalidField, "second SSH_FXP_INIT") }
            sawInit = true
            return true
        }
        guard sawInit else { throw FormatError(.invalidField, "SFTP request before SSH_FXP_INIT") }
        let id = try reader.readUInt32()
        switch type {
        case SFTPWire.PacketType.open:
            let path = try reader.readPath()
            let flags = try reader.readUInt32()
            if let reason = openRefusal(flags) {
                refuse(id, FileOperation(kind: .open, path: path, flags: SFTPWire.OpenFlag.text(flags), denied: reason))
                return false
            }
            try expect(id, .open(path: path, flags: flags))
        case SFTPWire.PacketType.close:
            guard policy != .deny else { return refuseRequest(id, type) }
            if let file = handles[try reader.readBytes()] { try expect(id, .close(file: file)) }
        case SFTPWire.PacketType.read:
            let handle = try reader.readBytes()
            let offset = try reader.readUInt64()
            // A READ on a write-only handle fails on the target anyway; refusing it here
            // does not depend on the target getting that right.
            guard policy == .allow || policy == .download else { return refuseRequest(id, type, path: handles[handle].flatMap { files[$0]?.path }) }
            if let file = handles[handle] { try expect(id, .read(file: file, offset: offset)) }
        case SFTPWire.PacketType.write:
            let handle = try reader.readBytes()
            let offset = try reader.readUInt64()
            let data = try reader.readString()
            guard policy == .allow || policy == .upload else { return refuseRequest(id, type, path: handles[handle].flatMap { files[$0]?.path }) }
            if let file = handles[handle] {
                try expect(id, .write(file: file, byteCount: data.count))
                files[file]?.write(data, at: offset, budget: &budget)
            }
        case SFTPWire.PacketType.setstat:
            return try modification(id, FileOperation(kind: .setstat, path: try reader.readPath()))
        case SFTPWire.PacketType.fsetstat:
            let handle = try reader.readBytes()
            let path = handles[handle].flatMap { files[$0]?.path } ?? "handle:" + Hex.string(handle)
            return try modification(id, FileOperation(kind: .setstat, path: path))
        case SFTPWire.PacketType.remove:
            return try modification(id, FileOperation(kind: .remove, path: try reader.readPath()))
        case SFTPWire.PacketType.mkdir:
            return try modification(id, FileOperation(kind: .mkdir, path: try reader.readPath()))
        case SFTPWire.PacketType.rmdir:
            return try modification(id, FileOperation(kind: .rmdir, path: try reader.readPath()))
        case SFTPWire.PacketType.rename:
            let from = try reader.readPath()
            return try modification(id, FileOperation(kind: .rename, path: from, secondPath: try reader.readPath()))
        case SFTPWire.PacketType.symlink:
            let first = try reader.readPath()
            return try modification(id, FileOperation(kind: .symlink, path: first, secondPath: try reader.readPath()))
        case SFTPWire.PacketType.lstat, SFTPWire.PacketType.fstat, SFTPWire.PacketType.opendir, SFTPWire.PacketType.readdir,
            SFTPWire.PacketType.realpath, SFTPWire.PacketType.stat, SFTPWire.PacketType.readlink:
            guard policy != .deny else { return refuseRequest(id, type) }
        case SFTPWire.PacketType.extended:
            return try extended(id, &reader)
        default:
            guard policy == .allow else { return refuseRequest(id, type) }
        }
        return true
    }

    private mutating func extended(_ id: UInt32, _ reader: inout SFTPPacketReader) throws(FormatError) -> Bool {
        let name = try reader.readPath()
        switch name {
        case "posix-rename@openssh.com":
            let from = try reader.readPath()
            return try modification(id, FileOperation(kind: .rename, path: from, secondPath: try reader.readPath()))
        case "hardlink@openssh.com":
            let from = try reader.readPath()
            return try modification(id, FileOperation(kind: .hardlink, path: from, secondPath: try reader.readPath()))
        case "lsetstat@openssh.com":
            return try modification(id, FileOperation(kind: .setstat, path: try reader.readPath()))
        default:
            let allowed = policy == .allow || (policy != .deny && Self.readOnlyExtensions.contains(name))
            guard allowed else {
                refuse(id, FileOperation(kind: .other, path: "", request: name, denied: "file_transfer = \(policy.rawValue) refuses the \(name) request"))
                return false
            }
            return true
        }
    }

    /// Why `policy` refuses an OPEN with `flags`, or nil. OpenSSH's server opens a request
    /// with neither READ nor WRITE read-only, so upload requires WRITE.
    private func openRefusal(_ flags: UInt32) -> String? {
        let text = SFTPWire.OpenFlag.text(flags)
        switch policy {
        case .allow: return nil
        case .download:
            return flags & ~SFTPWire.OpenFlag.read == 0 ? nil : "file_transfer = download refuses an open for \(text)"
        case .upload:
            return flags & SFTPWire.OpenFlag.read == 0 && flags & SFTPWire.OpenFlag.write != 0
                ? nil : "file_transfer = upload refuses an open for \(text)"
        case .deny: return "file_transfer = deny refuses every open"
        }
    }

    /// A request that changes the file system: refused under `download` and `deny`.
    private mutating func modification(_ id: UInt32, _ operation: FileOperation) throws(FormatError) -> Bool {
        guard policy == .allow || policy == .upload else {
            var refused = operation
            refused.denied = "file_transfer = \(policy.rawValue) refuses \(operation.kind.rawValue)"
            refuse(id, refused)
            return false
        }
        try expect(id, .operation(operation))
        return true
    }

    private mutating func refuseRequest(_ id: UInt32, _ type: UInt8, path: String? = nil) -> Bool {
        let name = SFTPWire.requestName(type)
        refuse(id, FileOperation(kind: .other, path: path ?? "", request: name, denied: "file_transfer = \(policy.rawValue) refuses the \(name) request"))
        return false
    }

    /// Answers request `id` with `SSH_FX_PERMISSION_DENIED` instead of forwarding it.
    private mutating func refuse(_ id: UInt32, _ operation: FileOperation) {
        completed.append(operation)
        refusals += SFTPWire.statusPacket(id: id, code: SFTPWire.Status.permissionDenied, message: refusalMessage)
    }
}
