import BastionCore
import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What ``LiveFileTransferRelay`` drives: ``SFTPSession`` or ``SCPSession``.
protocol FileTransferMachine {
    mutating func fromClient(_ bytes: [UInt8]) -> FileTransferStep
    mutating func fromTarget(_ bytes: [UInt8]) -> FileTransferStep
    mutating func finish() -> [FileOperation]
}

extension SFTPSession: FileTransferMachine {}
extension SCPSession: FileTransferMachine {}

/// Plays the relay's part live between a real client (`sftp -D BRIDGE`, `scp -S BRIDGE`) and
/// a real server (`sftp-server`, `scp -t`/`-f`): the client's bridge script joins two FIFOs
/// in the test directory; every chunk read either way goes through the machine, and what the
/// machine returns is written in step order by one serial queue per destination.
///
/// `@unchecked Sendable`: `lock` guards `machine`, `operations`, `errors`, `command` and the
/// descriptors; the two reader threads and the writer queues meet only under it.
final class LiveFileTransferRelay: @unchecked Sendable {
    let directory: String
    private let lock = NSLock()
    private var machine: (any FileTransferMachine)?
    private var recordedOperations: [FileOperation] = []
    private var recordedErrors: [String] = []
    private var recordedCommand: String?
    private var target: SpawnedProcess?
    private var targetInput: Int32 = -1
    private var clientInput: Int32 = -1
    private let group = DispatchGroup()
    private let toTarget = DispatchQueue(label: "relay.toTarget")
    private let toClient = DispatchQueue(label: "relay.toClient")

    var c2s: String { directory + "/c2s" }
    var s2c: String { directory + "/s2c" }

    init(directory: String) throws {
        self.directory = directory
        for fifo in [directory + "/c2s", directory + "/s2c"] {
            guard mkfifo(fifo, 0o600) == 0 else { throw FIFOError(path: fifo) }
        }
    }

    /// A script for `sftp -D` or `scp -S`: records its last argument (scp's remote command)
    /// and joins its standard streams to the FIFOs. Like ssh, it ends when the server's side
    /// does, whether or not the client closed its input (scp's sink never does).
    func writeBridge() throws -> String {
        let path = directory + "/bridge.sh"
        let script = """
            #!/bin/sh
            for last; do :; done
            printf '%s' "$last" > '\(directory)/command'
            exec 3<&0
            cat <&3 > '\(c2s)' &
            writer=$!
            cat '\(s2c)'
            kill $writer 2>/dev/null
            wait

            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// Starts relaying once the client's bridge opens its FIFO: then `machineFor(command)`
    /// builds the machine and `targetFor(command)` the server's arguments, run in `targetDirectory`.
    func start(
        targetDirectory: String, targetFor: @escaping @Sendable (String) -> [String], machineFor: @escaping @Sendable (String) -> (any FileTransferMachine)?
    ) {
        group.enter()
        Thread { [self] in
            defer { group.leave() }
            Self.blockPipeSignal()
            let fromClient = open(c2s, O_RDONLY)
            guard fromClient >= 0 else { return record(error: "open c2s") }
            defer { close(fromClient) }
            let command = (try? String(contentsOfFile: directory + "/command", encoding: .utf8)) ?? ""
            guard let machine = machineFor(command) else { return record(error: "no machine for command \(command)") }
            guard let input = try? ChildSpawner.pipe(), let output = try? ChildSpawner.pipe(),
                let process = try? SpawnedProcess(
                    targetFor(command), currentDirectory: targetDirectory, stdin: .descriptor(input.read), stdout: .descriptor(output.write),
                    stderr: .file(directory + "/target.err")
                )
            else { return record(error: "cannot start the target") }
            close(input.read)
            close(output.write)
            lock.withLock {
                self.machine = machine
                self.recordedCommand = command
                self.target = process
                self.targetInput = input.write
            }
            toClient.async { [self] in
                let fd = open(s2c, O_WRONLY)
                lock.withLock { clientInput = fd }
            }
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                Self.blockPipeSignal()
                pump(output.read, fromClient: false)
                close(output.read)
                toClient.async { [self] in close(lock.withLock { clientInput }) }
            }.start()
            pump(fromClient, fromClient: true)
            toTarget.async { close(input.write) }
        }.start()
    }

    /// Waits for both directions to end (at most `timeout`), then for the target; true when
    /// everything ended on its own.
    func wait(timeout: TimeInterval) -> Bool {
        let ended = group.wait(timeout: .now() + timeout) == .success
        if !ended {
            // Unblock an open() still waiting for the other end of a FIFO.
            for (path, flags) in [(c2s, O_WRONLY | O_NONBLOCK), (s2c, O_RDONLY | O_NONBLOCK)] {
                let fd = open(path, flags)
                if fd >= 0 { close(fd) }
            }
            _ = group.wait(timeout: .now() + 5)
        }
        toTarget.sync {}
        toClient.sync {}
        let killed = lock.withLock { target }?.waitBlocking(killingAt: Date().addingTimeInterval(10)) ?? false
        return ended && !killed
    }

    var operations: [FileOperation] { lock.withLock { recordedOperations } }
    var errors: [String] { lock.withLock { recordedErrors } }
    var command: String? { lock.withLock { recordedCommand } }

    func finish() -> [FileOperation] {
        lock.withLock { machine?.finish() ?? [] }
    }

    private func pump(_ fd: Int32, fromClient: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            let bytes = Array(buffer[0 ..< count])
            lock.withLock {
                guard let step = fromClient ? machine?.fromClient(bytes) : machine?.fromTarget(bytes) else { return }
                recordedOperations += step.operations
                if let error = step.protocolError { recordedErrors.append(String(describing: error)) }
                if !step.toTarget.isEmpty {
                    let fd = targetInput
                    toTarget.async { Self.writeAll(fd, step.toTarget) }
                }
                if !step.toClient.isEmpty {
                    toClient.async { [self] in Self.writeAll(lock.withLock { clientInput }, step.toClient) }
                }
            }
        }
    }

    private func record(error: String) {
        lock.withLock { recordedErrors.append(error) }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        blockPipeSignal()
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// A peer that went away makes writes fail with EPIPE instead of ending the test process.
    private static func blockPipeSignal() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }
}

struct FIFOError: Error {
    var path: String
}

/// `sha256sum FILE`'s digest.
func sha256sum(_ path: String) async throws -> String {
    let result = try await ProcessRunner.run("sha256sum", [path])
    return String(result.stdout.prefix(64))
}
