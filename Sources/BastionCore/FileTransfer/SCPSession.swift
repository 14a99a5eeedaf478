import BastionCrypto

/// A legacy `scp -O` transfer (the rcp protocol of OpenSSH's scp.c) as the relay sees it,
/// file by file.
///
/// One side is the source, sending control lines, file data and a status byte after each
/// file; the other is the sink, answering each line and each file with an acknowledgment
/// (`\0`, or `\1`/`\2` and a message line). For `scp -t` (upload) the client is the source;
/// for `scp -f` (download) the target is. The protocol is lock-step: the source waits for
/// the acknowledgment of each line, so one item is outstanding at a time.
///
/// Control lines: `C<mode> <size> <name>\n` then `size` bytes and the status byte;
/// `D<mode> 0 <name>\n` … `E\n` around a directory (`-r`); `T<mtime> 0 <atime> 0\n` before
/// either (`-p`); `\1`/`\2` + message from the source when it cannot read a file. A name that
/// is empty, `.`, `..` or holds `/` is a protocol error (CVE-2018-20685, CVE-2019-6111: a
/// hostile source steering files outside the target directory); the line is held back until
/// it is whole, so such a line never reaches the sink. File data passes through as it comes.
///
/// Reports, per file, `open` when the sink accepts the `C` line and `close` when it
/// acknowledges the data (bytes, SHA-256); for uploads, `mkdir` for each `D` line.
/// The policy is decided at channel start (``FileTransferPolicy/permits(_:)``).
///
/// Not `Sendable`; one owner (the connection thread), as it holds a running digest.
public struct SCPSession {
    /// OpenSSH's scp reads control lines into a 2048-byte buffer; room for long paths.
    static let maximumLineLength = 8192

    public let command: SCPCommand

    private enum Awaited {
        case start, time, end
        case file(name: String, size: UInt64)
        case directory(name: String)
        case fileEnd
    }

    private enum State {
        case awaiting(Awaited)
        /// A control line (or a source message) is being read into `line`.
        case line
        case data(remaining: UInt64)
        /// The source's status byte after the data.
        case dataStatus
        /// The source's message after the data (it could not read the file).
        case dataMessage
    }

    private struct Transfer {
        var path: String
        var name: String?
        var bytes: UInt64 = 0
        let hash = IncrementalSHA256()
        var failure: String?
    }

    private var state = State.awaiting(.start)
    private var line: [UInt8] = []
    private var ackMessage: [UInt8]?
    private var directories: [String] = []
    private var transfer: Transfer?
    private var operations: [FileOperation] = []
    private var failure: FormatError?

    public init(command: SCPCommand) {
        self.command = command
    }

    /// Bytes the client sent the target.
    public mutating func fromClient(_ bytes: [UInt8]) -> SCPStep {
        let forwarded = command.direction == .upload ? source(bytes) : acknowledgments(bytes)
        return step(toTarget: forwarded, toClient: [])
    }

    /// Bytes the target sent the client.
    public mutating func fromTarget(_ bytes: [UInt8]) -> SCPStep {
        let forwarded = command.direction == .download ? source(bytes) : acknowledgments(bytes)
        return step(toTarget: [], toClient: forwarded)
    }

    /// The channel ended: a file under way becomes a `close` with ``FileOperation/failure``
    /// "channel ended before the file was complete" and the digest of what crossed.
    public mutating func finish() -> [FileOperation] {
        var finished = operations
        operations = []
        if transfer != nil { finished.append(close(failure: "channel ended before the file was complete")) }
        return finished
    }

    private mutating func step(toTarget: [UInt8], toClient: [UInt8]) -> SCPStep {
        defer { operations = [] }
        if let failure { return SCPStep(operations: operations, protocolError: failure) }
        return SCPStep(toTarget: toTarget, toClient: toClient, operations: operations)
    }

    // MARK: The source's stream

    /// Parses the source's bytes; returns those to forward (all but an incomplete control line,
    /// which waits for its end; `input` itself when nothing is held).
    private mutating func source(_ input: [UInt8]) -> [UInt8] {
        guard failure == nil else { return [] }
        var output: [UInt8] = []
        var runStart = 0
        var index = 0
        var copied = false
        var caught: FormatError?
        input.withUnsafeBytes { raw in
            do throws(FormatError) {
                while index < raw.count {
                    switch state {
                    case .awaiting:
                        throw FormatError(.invalidField, "scp source sent before its last line was acknowledged")
                    case .data(let remaining):
                        let take = Int(min(remaining, UInt64(raw.count - index)))
                        transfer?.hash.update(UnsafeRawBufferPointer(rebasing: raw[index ..< index + take]))
                        transfer?.bytes += UInt64(take)
                        index += take
                        state = remaining == UInt64(take) ? .dataStatus : .data(remaining: remaining - UInt64(take))
                    case .dataStatus:
                        let byte = raw[index]
                        guard byte <= 2 else { throw FormatError(.invalidField, "scp status byte \(byte) after file data") }
                        if byte == 0 {
                            index += 1
                            state = .awaiting(.fileEnd)
                        } else {
                            state = .dataMessage
                        }
                    case .line, .dataMessage:
                        // Held until the newline, then forwarded only if it parses.
                        copied = true
                        output.append(contentsOf: input[runStart ..< index])
                        guard let newline = raw[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                            try hold(raw[index...])
                            index = raw.count
                            runStart = index
                            break
                        }
                        try hold(raw[index ... newline])
                        index = newline + 1
                        runStart = index
                        let complete = line
                        line = []
                        try sourceLine(complete)
                        output += complete
                    }
                }
            } catch {
                caught = error
            }
        }
        if let caught {
            failure = caught
            return []
        }
        if !copied { return input }
        output.append(contentsOf: input[runStart ..< input.count])
        return output
    }

    private mutating func hold(_ bytes: Slice<UnsafeRawBufferPointer>) throws(FormatError) {
        guard line.count + bytes.count <= Self.maximumLineLength else {
            throw FormatError(.invalidField, "scp control line longer than \(Self.maximumLineLength) bytes")
        }
        line.append(contentsOf: bytes)
    }

    /// Handles one whole line from the source, newline included.
    private mutating func sourceLine(_ bytes: [UInt8]) throws(FormatError) {
        let body = bytes.dropLast()
        if case .dataMessage = state {
            transfer?.failure = Self.messageText(body.dropFirst())
            state = .awaiting(.fileEnd)
            return
        }
        guard let kind = body.first else { throw FormatError(.invalidField, "empty scp control line") }
        guard !body.contains(0) else { throw FormatError(.invalidField, "NUL byte in an scp control line") }
        switch kind {
        case UInt8(ascii: "C"), UInt8(ascii: "D"):
            let (size, nameBytes) = try Self.header(body.dropFirst())
            let name = FileTransferText.path(Array(nameBytes))
            if kind == UInt8(ascii: "C") {
                state = .awaiting(.file(name: name, size: size))
            } else {
                state = .awaiting(.directory(name: name))
            }
        case UInt8(ascii: "E"):
            guard body.count == 1 else { throw FormatError(.invalidField, "scp E line with arguments") }
            state = .awaiting(.end)
        case UInt8(ascii: "T"):
            guard body.dropFirst().allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x20 }) else {
                throw FormatError(.invalidField, "malformed scp T line")
            }
            state = .awaiting(.time)
        case 1, 2:
            // The source could not read a file: no acknowledgment follows.
            operations.append(
                FileOperation(kind: .open, path: command.path, flags: openFlags, failure: Self.messageText(body.dropFirst()))
            )
        default:
            throw FormatError(.invalidField, "expected an scp control line, got byte \(kind)")
        }
    }

    /// `<mode> <size> <name>` of a `C` or `D` line, as scp.c's sink reads it.
    private static func header(_ text: ArraySlice<UInt8>) throws(FormatError) -> (UInt64, ArraySlice<UInt8>) {
        var rest = text
        guard rest.count > 5, rest.prefix(4).allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }), rest[rest.startIndex + 4] == 0x20 else {
            throw FormatError(.invalidField, "malformed scp mode")
        }
        rest = rest.dropFirst(5)
        var size: UInt64 = 0
        var digits = 0
        while let digit = rest.first, digit >= 0x30, digit <= 0x39 {
            let (times, overflow1) = size.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit - 0x30))
            guard !overflow1, !overflow2 else { throw FormatError(.invalidField, "scp size out of range") }
            size = sum
            digits += 1
            rest = rest.dropFirst()
        }
        guard digits > 0, rest.first == 0x20 else { throw FormatError(.invalidField, "malformed scp size") }
        let name = rest.dropFirst()
        let dot = UInt8(ascii: ".")
        guard !name.isEmpty, !name.contains(UInt8(ascii: "/")), !name.elementsEqual([dot]), !name.elementsEqual([dot, dot]) else {
            throw FormatError(.invalidField, "scp name \"\(FileTransferText.path(Array(name)))\" is empty, . or .., or holds /")
        }
        return (size, name)
    }

    // MARK: The sink's acknowledgments

    /// Parses the sink's acknowledgments; they pass through unchanged.
    private mutating func acknowledgments(_ input: [UInt8]) -> [UInt8] {
        guard failure == nil else { return [] }
        do throws(FormatError) {
            var index = 0
            while index < input.count {
                if ackMessage != nil {
                    guard let newline = input[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                        ackMessage! += input[index...]
                        index = input.count
                        guard ackMessage!.count <= Self.maximumLineLength else {
                            throw FormatError(.invalidField, "scp acknowledgment longer than \(Self.maximumLineLength) bytes")
                        }
                        break
                    }
                    let message = ackMessage! + input[index ..< newline]
                    ackMessage = nil
                    index = newline + 1
                    try acknowledged(failure: Self.messageText(message.dropFirst()))
                } else {
                    let byte = input[index]
                    index += 1
                    switch byte {
                    case 0: try acknowledged(failure: nil)
                    case 1, 2: ackMessage = [byte]
                    default: throw FormatError(.invalidField, "scp acknowledgment byte \(byte)")
                    }
                }
            }
        } catch {
            failure = error
            return []
        }
        return input
    }

    private mutating func acknowledged(failure message: String?) throws(FormatError) {
        guard case .awaiting(let awaited) = state else {
            // A sink may report an error of its own (a failed chmod) besides its answers.
            guard message != nil else { throw FormatError(.invalidField, "scp acknowledgment nobody waited for") }
            return
        }
        state = .line
        switch awaited {
        case .start:
            if let message { operations.append(FileOperation(kind: .open, path: command.path, flags: openFlags, failure: message)) }
        case .time:
            break
        case .end:
            if message == nil, !directories.isEmpty { directories.removeLast() }
        case .directory(let name):
            let path = resolve(name)
            if command.direction == .upload {
                operations.append(FileOperation(kind: .mkdir, path: path.path, name: path.name, failure: message))
            }
            if message == nil { directories.append(path.path) }
        case .file(let name, let size):
            let path = resolve(name)
            operations.append(FileOperation(kind: .open, path: path.path, flags: openFlags, name: path.name, failure: message))
            if message == nil {
                transfer = Transfer(path: path.path, name: path.name)
                state = size == 0 ? .dataStatus : .data(remaining: size)
            }
        case .fileEnd:
            operations.append(close(failure: message))
        }
    }

    private mutating func close(failure: String?) -> FileOperation {
        guard let finished = transfer else { return FileOperation(kind: .close, path: command.path, failure: failure) }
        transfer = nil
        var operation = FileOperation(kind: .close, path: finished.path, flags: openFlags, name: finished.name, failure: failure ?? finished.failure)
        if command.direction == .upload { operation.bytesWritten = finished.bytes } else { operation.bytesRead = finished.bytes }
        operation.sha256 = Hex.string(finished.hash.finalize())
        operation.sha256Status = .complete
        return operation
    }

    private var openFlags: String { command.direction == .upload ? "write,create,truncate" : "read" }

    // MARK: Paths

    /// Where the item `name` of the current directory lives on the target. An upload's
    /// target without `-d`, `-r` or a trailing `/` may be the file itself or the directory it
    /// lands in (scp.c's sink decides by `stat`): the path is then the target and `name` the
    /// name the source sent.
    private func resolve(_ name: String) -> (path: String, name: String?) {
        if let directory = directories.last { return (Self.join(directory, name), nil) }
        switch command.direction {
        case .upload:
            let target = command.path
            if target == "." || target.isEmpty { return (name, nil) }
            if command.targetIsDirectory || command.recursive || target.hasSuffix("/") { return (Self.join(target, name), nil) }
            return (target, name)
        case .download:
            let source =
                command.paths.first { Self.lastComponent($0) == name }
                ?? command.paths.first { $0.contains(where: { "*?[".contains($0) }) }
                ?? command.paths[0]
            return (Self.join(Self.parent(source), name), nil)
        }
    }

    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private static func trimmed(_ path: String) -> Substring {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        return path
    }

    static func lastComponent(_ path: String) -> String {
        let path = trimmed(path)
        return String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? path)
    }

    /// The directory holding `path`: `""` for a bare name, `/` for a top-level one.
    static func parent(_ path: String) -> String {
        let path = trimmed(path)
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func messageText(_ bytes: some Collection<UInt8>) -> String {
        FileTransferText.path(Array(bytes))
    }
}
