/// The `sftp` subsystem as the relay sees it: SFTP version 3 (draft-ietf-secsh-filexfer-02,
/// what OpenSSH speaks) parsed in both directions, file by file, with ``FileTransferPolicy``
/// enforced per request.
///
/// A state machine in the swift-nio-ssh manner: the relay feeds each chunk it reads, split
/// anywhere, to ``fromClient(_:)`` or ``fromTarget(_:)`` and carries out the returned
/// ``SFTPStep``. Only whole packets are forwarded, so a refused request is dropped and its
/// `SSH_FX_PERMISSION_DENIED` answer slots in between two of the target's packets.
///
/// What it tracks: request id → the outstanding request; `HANDLE` replies → open files;
/// READ + DATA and WRITE (+ its STATUS) → byte counts and a ``SequentialDigest``. Operations
/// are reported when the target answers: success on `HANDLE`/`STATUS OK`, and a failure
/// carrying the target's status text otherwise (an attempt to open `/etc/shadow` is worth an
/// audit record too). Directory listing, `stat` and friends are not reported.
///
/// Bounds: packets over OpenSSH's 256 KiB limit, more than ``maximumOutstandingRequests``
/// outstanding requests or ``maximumOpenFiles`` open files are protocol errors; the reorder
/// windows are bounded by ``ReorderBudget``. Any malformed input sets
/// ``SFTPStep/protocolError`` and the machine stops (fail closed), never trapping.
///
/// Not `Sendable` and meant to have one owner (the connection thread): it holds running
/// digests, which a copy would share.
public struct SFTPSession {
    /// More outstanding requests than any client pipelines (OpenSSH's `sftp -R` defaults to 64).
    public static let maximumOutstandingRequests = 16_384
    /// More open files than sftp-server's descriptor limit allows.
    public static let maximumOpenFiles = 4_096
    /// Path text held for outstanding requests, across all of them.
    static let maximumOutstandingTextBytes = 64 << 20

    public let policy: FileTransferPolicy
    /// The text of the synthesised `SSH_FX_PERMISSION_DENIED` status.
    public let refusalMessage: String

    enum Request {
        case open(path: String, flags: UInt32)
        case read(file: Int, offset: UInt64)
        case write(file: Int, byteCount: Int)
        case close(file: Int)
        case operation(FileOperation)
    }

    var outstanding: [UInt32: Request] = [:]
    var outstandingTextBytes = 0
    var files: [Int: SFTPOpenFile] = [:]
    var handles: [[UInt8]: Int] = [:]
    var nextFileID = 0
    var budget = ReorderBudget()
    var sawInit = false
    var sawVersion = false

    private var clientCarry: [UInt8] = []
    private var targetCarry: [UInt8] = []
    private var failure: FormatError?
    /// Collected while one input is processed, handed out in its step.
    var completed: [FileOperation] = []
    var refusals: [UInt8] = []

    /// - Parameters:
    ///   - policy: the role's `file_transfer`.
    ///   - refusalMessage: what the client's refused requests say; by default
    ///     `policy.refusalMessage()`.
    public init(policy: FileTransferPolicy, refusalMessage: String? = nil) {
        self.policy = policy
        self.refusalMessage = refusalMessage ?? policy.refusalMessage()
    }

    /// Bytes the client sent the target.
    public mutating func fromClient(_ bytes: [UInt8]) -> SFTPStep {
        guard failure == nil else { return SFTPStep(protocolError: failure) }
        var carry = clientCarry
        clientCarry = []
        let forwarded = frame(bytes, carry: &carry, fromClient: true)
        clientCarry = carry
        return step(toTarget: forwarded, toClient: [])
    }

    /// Bytes the target sent the client.
    public mutating func fromTarget(_ bytes: [UInt8]) -> SFTPStep {
        guard failure == nil else { return SFTPStep(protocolError: failure) }
        var carry = targetCarry
        targetCarry = []
        let forwarded = frame(bytes, carry: &carry, fromClient: false)
        targetCarry = carry
        return step(toTarget: [], toClient: forwarded)
    }

    /// The channel ended: files still open become `close` operations with
    /// ``FileOperation/failure`` "channel ended before close" (their counts and digest as far
    /// as they went), and requests the target never answered are reported as unconfirmed, since
    /// the target may have carried them out. A partial packet left over was never forwarded.
    public mutating func finish() -> [FileOperation] {
        var operations = completed
        completed = []
        for (_, request) in outstanding.sorted(by: { $0.key < $1.key }) {
            switch request {
            case .open(let path, let flags):
                operations.append(FileOperation(kind: .open, path: path, flags: SFTPWire.OpenFlag.text(flags), failure: Self.unanswered))
            case .operation(var operation):
                operation.failure = Self.unanswered
                operations.append(operation)
            case .read, .write, .close: break
            }
        }
        outstanding = [:]
        outstandingTextBytes = 0
        for id in files.keys.sorted() {
            operations.append(closeOperation(file: id, failure: "channel ended before close"))
        }
        clientCarry = []
        targetCarry = []
        return operations
    }

    static let unanswered = "channel ended before the target answered"

    private mutating func step(toTarget: [UInt8], toClient: [UInt8]) -> SFTPStep {
        defer {
            completed = []
            refusals = []
        }
        if let failure { return SFTPStep(operations: completed, protocolError: failure) }
        var toClient = toClient
        if !refusals.isEmpty {
            if toClient.isEmpty { toClient = refusals } else { toClient += refusals }
        }
        return SFTPStep(toTarget: toTarget, toClient: toClient, operations: completed)
    }

    private enum Verdict {
        case forward, drop, fail(FormatError)
    }

    /// Cuts `carry + input` into packets, hands each to the parser of its direction, and
    /// returns the packets to forward; an incomplete tail stays in `carry`. When every packet
    /// of `input` is forwarded and none straddles its edges, `input` itself is returned, uncopied.
    private mutating func frame(_ input: [UInt8], carry: inout [UInt8], fromClient: Bool) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        if !carry.isEmpty {
            if carry.count < 4 {
                let take = min(4 - carry.count, input.count)
                carry.append(contentsOf: input[0 ..< take])
                index = take
                if carry.count < 4 { return [] }
            }
            let total: Int
            do throws(FormatError) { total = 4 + (try Self.packetLength(carry[0], carry[1], carry[2], carry[3])) } catch {
                failure = error
                return []
            }
            let take = min(total - carry.count, input.count - index)
            carry.append(contentsOf: input[index ..< index + take])
            index += take
            if carry.count < total { return [] }
            let verdict = carry.withUnsafeBytes { raw in
                packet(UnsafeRawBufferPointer(rebasing: raw[4...]), fromClient: fromClient)
            }
            switch verdict {
            case .forward: output = carry
            case .drop: break
            case .fail(let error):
                failure = error
                return []
            }
            carry = []
        }
        let start = index
        var runStart = index
        var frameError: FormatError?
        input.withUnsafeBytes { raw in
            while raw.count - index >= 4 {
                let length: Int
                do throws(FormatError) { length = try Self.packetLength(raw[index], raw[index + 1], raw[index + 2], raw[index + 3]) } catch {
                    frameError = error
                    return
                }
                guard raw.count - index - 4 >= length else { break }
                let end = index + 4 + length
                switch packet(UnsafeRawBufferPointer(rebasing: raw[index + 4 ..< end]), fromClient: fromClient) {
                case .forward: break
                case .drop:
                    // From the array, not the raw buffer: an ArraySlice appends with one memcpy.
                    if runStart < index { output.append(contentsOf: input[runStart ..< index]) }
                    runStart = end
                case .fail(let failed):
                    frameError = failed
                    return
                }
                index = end
            }
        }
        if let frameError {
            failure = frameError
            return []
        }
        if index < input.count { carry = Array(input[index...]) }
        if start == 0, runStart == 0, index == input.count { return input }
        if runStart < index { output.append(contentsOf: input[runStart ..< index]) }
        return output
    }

    private mutating func packet(_ packet: UnsafeRawBufferPointer, fromClient: Bool) -> Verdict {
        do {
            return try (fromClient ? request(packet) : reply(packet)) ? .forward : .drop
        } catch {
            return .fail(error)
        }
    }

    private static func packetLength(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) throws(FormatError) -> Int {
        let length = UInt32(b0) << 24 | UInt32(b1) << 16 | UInt32(b2) << 8 | UInt32(b3)
        guard length >= 1 else { throw FormatError(.invalidField, "empty SFTP packet") }
        guard length <= SFTPWire.maximumPacketLength else {
            throw FormatError(.invalidField, "SFTP packet of \(length) bytes, over the \(SFTPWire.maximumPacketLength)-byte limit")
        }
        return Int(length)
    }

    /// Records `request` as outstanding under `id`.
    mutating func expect(_ id: UInt32, _ request: Request) throws(FormatError) {
        guard outstanding[id] == nil else { throw FormatError(.invalidField, "SFTP request id \(id) reused while outstanding") }
        guard outstanding.count < Self.maximumOutstandingRequests else {
            throw FormatError(.invalidField, "more than \(Self.maximumOutstandingRequests) outstanding SFTP requests")
        }
        let text = Self.textBytes(request)
        guard outstandingTextBytes + text <= Self.maximumOutstandingTextBytes else {
            throw FormatError(.invalidField, "outstanding SFTP requests hold too many path bytes")
        }
        outstandingTextBytes += text
        outstanding[id] = request
    }

    /// Takes the request `id` answers, if Bastion tracks it.
    mutating func answered(_ id: UInt32) -> Request? {
        guard let request = outstanding.removeValue(forKey: id) else { return nil }
        outstandingTextBytes -= Self.textBytes(request)
        return request
    }

    private static func textBytes(_ request: Request) -> Int {
        switch request {
        case .open(let path, _): path.utf8.count
        case .operation(let operation): operation.path.utf8.count + (operation.secondPath?.utf8.count ?? 0)
        case .read, .write, .close: 0
        }
    }

    /// Ends the open file `file` and describes it.
    mutating func closeOperation(file id: Int, failure: String?) -> FileOperation {
        guard var file = files.removeValue(forKey: id) else {
            return FileOperation(kind: .close, path: "", failure: failure)
        }
        if handles[file.handle] == id { handles[file.handle] = nil }
        var operation = FileOperation(kind: .close, path: file.path, flags: SFTPWire.OpenFlag.text(file.flags), failure: failure)
        operation.bytesRead = file.bytesRead
        operation.bytesWritten = file.bytesWritten
        let digest = file.digest.finish(budget: &budget)
        operation.sha256 = digest.sha256
        operation.sha256Status = digest.status
        return operation
    }
}
