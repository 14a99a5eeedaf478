import BastionApp
import BastionCore
import BastionTesting
import CLibSSH
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for the relay tests that drive real programs (tmux, a killed bastiond, libssh).

/// Polls `condition` every `interval` until it holds or `timeout` passes; true if it held.
/// Sleeps with `Task.sleep`, so the cooperative pool is free meanwhile.
func relayPoll(
    timeout: TimeInterval, interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return true }
        if Date() > deadline { return false }
        try await Task.sleep(for: interval)
    }
}

/// `word` quoted for `sh -c`.
func relayShellQuote(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

extension BastionHarness {
    /// The `details` of the audit records of `type` so far, without waiting (the shared
    /// `auditDetails` sleeps on the calling thread while there are none).
    func auditDetailsNow(_ type: String) throws -> [[String: String]] {
        try auditRecords(type).map { $0["details"] as? [String: String] ?? [:] }
    }
}

// MARK: - Recordings

enum RelayRecording {
    /// `asciinema cat FILE` under `script` (asciinema wants a TTY): the strict validator. A
    /// sealed recording is opened first (as `bastiond recording export` would) into `FILE.plain.cast`.
    static func asciinemaCat(_ path: String) async throws -> ProcessRunner.Result {
        var readable = path
        if try isSealed(path) {
            readable = path + ".plain.cast"
            try Data(try plaintext(path)).write(to: URL(fileURLWithPath: readable))
        }
        return try await ProcessRunner.run("script", ["-qec", "asciinema cat \(relayShellQuote(readable))", "/dev/null"], timeout: 30)
    }

    static func isSealed(_ path: String) throws -> Bool {
        SealedRecording.isSealed(prefix: Array(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(8)))
    }

    /// A recording's asciicast text: the file itself, or a sealed one opened with the master key
    /// of the test's data directory (a folder beside `…/recordings` holding `master.key`, as the
    /// harnesses lay them out: `data`, or `node-a` in a cluster).
    static func plaintext(_ path: String) throws -> [UInt8] {
        guard try isSealed(path) else { return Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
        var directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        for _ in 0..<6 {
            directory = directory.deletingLastPathComponent()
            let folders = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
            for folder in folders {
                let data = directory.appendingPathComponent(folder).path
                guard FileManager.default.fileExists(atPath: data + "/" + KeyMaterial.FileName.masterKey) else { continue }
                let keys = try KeyMaterial.loadOrCreate(in: data)
                return try RecordingKeys(keyring: keys.masterKeys).plaintext(atPath: path)
            }
        }
        throw HarnessError(message: "\(path) is sealed and no data directory with a master key was found above it")
    }

    /// The event lines of an asciicast v2 file, decoded (`[time, code, data]`); the header is skipped.
    static func events(_ path: String) throws -> [(time: Double, code: String, data: String)] {
        let text = String(decoding: try plaintext(path), as: UTF8.self)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            guard let array = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any], array.count == 3,
                let time = (array[0] as? NSNumber)?.doubleValue, let code = array[1] as? String, let data = array[2] as? String
            else { return nil }
            return (time, code, data)
        }
    }

    /// The header object of an asciicast v2 file.
    static func header(_ path: String) throws -> [String: Any] {
        let text = String(decoding: try plaintext(path), as: UTF8.self)
        guard let first = text.split(separator: "\n").first,
            let object = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
        else { throw HarnessError(message: "\(path): no header line") }
        return object
    }

    /// Every `*.cast` file below `directory`.
    static func files(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".cast") { found.append(directory + "/" + relative) }
        }
        return found.sorted()
    }
}

// MARK: - tmux

/// A tmux server of the test's own (`tmux -L NAME`), so nothing touches the user's tmux;
/// `stop()` kills the session by name and then the server.
struct RelayTmux {
    let socket: String
    let session: String

    init(session: String) {
        self.socket = "bastion-test-\(UUID().uuidString.prefix(8))"
        self.session = session
    }

    @discardableResult
    func run(_ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run("tmux", ["-L", socket] + arguments, timeout: 15)
    }

    /// `new-session -d -s NAME -x COLS -y ROWS COMMAND` (COMMAND runs under `sh -c`).
    ///
    /// This command forks the tmux server, which lives on: it is started with `posix_spawn`,
    /// every descriptor above stderr closed, not with `Foundation.Process`, whose
    /// exit-watching descriptor the server would inherit and keep open (the client would
    /// then never be seen to exit, and every later `Process` in the run would hang).
    func start(columns: Int, rows: Int, command: String) async throws {
        let pid = try ChildSpawner.spawn([
            try ProcessRunner.locate("tmux"), "-L", socket, "new-session", "-d", "-s", session, "-x", String(columns), "-y", String(rows), command,
        ])
        var status: Int32 = 0
        let exited = try await relayPoll(timeout: 15, interval: .milliseconds(20)) { waitpid(pid, &status, WNOHANG) == pid }
        guard exited else {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw HarnessError(message: "tmux new-session did not return")
        }
        guard status == 0 else { throw HarnessError(message: "tmux new-session failed (wait status \(status))") }
    }

    /// Types `text` into the pane, then Enter.
    func type(_ text: String) async throws {
        try await run(["send-keys", "-t", session, "-l", text])
        try await run(["send-keys", "-t", session, "Enter"])
    }

    /// The visible pane, one string per line, trailing blanks trimmed.
    func lines() async throws -> [String] {
        try await run(["capture-pane", "-p", "-t", session]).stdout.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    /// Waits until the pane has a line equal to `line`: nil when it does, else the pane's
    /// last text (for the failure message).
    func waitForLine(_ line: String, timeout: TimeInterval = 15) async throws -> String? {
        var pane: [String] = []
        let found = try await relayPoll(timeout: timeout, interval: .milliseconds(200)) {
            pane = try await lines()
            return pane.contains(line)
        }
        return found ? nil : pane.joined(separator: "\n")
    }

    var isRunning: Bool {
        get async throws { try await run(["has-session", "-t", session]).status == 0 }
    }

    func stop() async {
        _ = try? await run(["kill-session", "-t", session])
        _ = try? await run(["kill-server"])
    }
}

// MARK: - A bastiond process

/// The real `bastiond serve`, as a child process with its log in a file.
final class RelayDaemonProcess: @unchecked Sendable {
    let process: SpawnedProcess
    let logPath: String
    let sshPort: Int
    let httpPort: Int

    /// The bastiond built with these tests: next to the test bundle (`--scratch-path` builds
    /// keep both in the same folder), else the default `.build` one.
    static var binaryPath: String {
        get throws {
            if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                let sibling = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("bastiond").path
                if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
            }
            return try BastiondBinary.path
        }
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 30) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(try binaryPath, arguments, environment: environment, timeout: timeout)
    }

    /// `bastiond user add NAME --key KEY.pub --role …` with the admin CLI; returns the TOTP
    /// secret from the otpauth:// line it prints.
    static func addUser(_ name: String, key: String, roles: [String], config: String, environment: [String: String] = [:]) async throws -> String {
        let added = try await run(
            ["user", "add", name, "--key", try String(contentsOfFile: key + ".pub", encoding: .utf8)] + roles.flatMap { ["--role", $0] }
                + ["--config", config],
            environment: environment
        )
        guard added.status == 0, let secret = added.stdout.firstMatch(of: /otpauth:\/\/\S*[?&]secret=([A-Z2-7]+)/).map({ String($0.1) }) else {
            throw HarnessError(message: "user add \(name): \(added)")
        }
        return secret
    }

    /// Starts `bastiond serve --config CONFIG` and waits for its "bastiond ready" line.
    init(config: String, logPath: String, environment: [String: String] = [:]) async throws {
        let process = try SpawnedProcess(
            [try Self.binaryPath, "serve", "--config", config],
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { _, new in new }, stderr: .file(logPath)
        )
        var log = ""
        let ready = try await relayPoll(timeout: 30, interval: .milliseconds(50)) {
            log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return log.contains("bastiond ready") || !process.isRunning
        }
        guard ready, process.isRunning, let ssh = log.firstMatch(of: /ssh=127\.0\.0\.1:(\d+)/).flatMap({ Int($0.1) }),
            let http = log.firstMatch(of: /http=127\.0\.0\.1:(\d+)/).flatMap({ Int($0.1) })
        else {
            process.signal(SIGKILL)
            throw HarnessError(message: "bastiond serve did not become ready: \(log)")
        }
        self.process = process
        self.logPath = logPath
        self.sshPort = ssh
        self.httpPort = http
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (politely, off the pool) up to `timeout` for the process to end.
    @discardableResult
    func signal(_ signal: Int32, wait timeout: TimeInterval = 10) async throws -> Bool {
        process.signal(signal)
        return try await process.waitForExit(timeout: timeout)
    }

    /// Stops it without waiting (for `defer`).
    func killNow() {
        process.signal(SIGKILL)
    }
}

// MARK: - libssh client (a client that sends a signal)

/// A libssh client for what OpenSSH's `ssh` cannot do non-interactively: send a `signal`
/// channel request (RFC 4254 §6.9) to a running command.
enum RelaySignalClient {
    struct Outcome: Sendable, CustomStringConvertible {
        var stdout: String
        var exitStatus: Int32?
        var exitSignal: String?
        var description: String { "stdout: \(stdout) exit-status: \(exitStatus.map(String.init) ?? "none") exit-signal: \(exitSignal ?? "none")" }
    }

    /// Collected by the channel callbacks.
    private final class Box {
        var exitStatus: Int32?
        var exitSignal: String?
    }

    /// Logs in as `user` at 127.0.0.1:`port` with `keyPath` + its certificate, runs `command`,
    /// waits until the output contains `readyText`, sends `signal`, and reads to the end.
    /// Runs on a thread of its own (libssh blocks).
    static func execAndSignal(
        port: Int, user: String, keyPath: String, certificatePath: String, command: String, readyText: String, signal: String
    ) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try blockingExecAndSignal(
                        port: port, user: user, keyPath: keyPath, certificatePath: certificatePath, command: command,
                        readyText: readyText, signal: signal
                    )
                })
            }.start()
        }
    }

    private static func blockingExecAndSignal(
        port: Int, user: String, keyPath: String, certificatePath: String, command: String, readyText: String, signal: String
    ) throws -> Outcome {
        guard let session = ssh_new() else { throw HarnessError(message: "ssh_new failed") }
        defer {
            ssh_disconnect(session)
            ssh_free(session)
        }
        func failure(_ what: String) -> HarnessError {
            HarnessError(message: "\(what): \(String(cString: ssh_get_error(UnsafeMutableRawPointer(session))))")
        }
        var portValue = UInt32(port)
        var noConfig = false
        var timeout = 10
        ssh_options_set(session, SSH_OPTIONS_HOST, "127.0.0.1")
        ssh_options_set(session, SSH_OPTIONS_PORT, &portValue)
        ssh_options_set(session, SSH_OPTIONS_USER, user)
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &noConfig)
        ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null")
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout)
        guard ssh_connect(session) == SSH_OK else { throw failure("connect") }

        var privateKey: ssh_key?
        var certificate: ssh_key?
        guard ssh_pki_import_privkey_file(keyPath, nil, nil, nil, &privateKey) == SSH_OK, let privateKey else {
            throw HarnessError(message: "cannot read \(keyPath)")
        }
        defer { ssh_key_free(privateKey) }
        guard ssh_pki_import_cert_file(certificatePath, &certificate) == SSH_OK, let certificate else {
            throw HarnessError(message: "cannot read \(certificatePath)")
        }
        defer { ssh_key_free(certificate) }
        guard ssh_pki_copy_cert_to_privkey(certificate, privateKey) == SSH_OK else { throw failure("cert to key") }
        guard ssh_userauth_publickey(session, nil, privateKey) == Int32(SSH_AUTH_SUCCESS.rawValue) else {
            throw failure("certificate login as \(user)")
        }

        guard let channel = ssh_channel_new(session) else { throw failure("channel") }
        defer { ssh_channel_free(channel) }
        let box = Box()
        let callbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)
        callbacks.initialize(to: ssh_channel_callbacks_struct())
        defer { callbacks.deallocate() }
        let unmanaged = Unmanaged.passRetained(box)
        defer { unmanaged.release() }
        callbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        callbacks.pointee.userdata = unmanaged.toOpaque()
        callbacks.pointee.channel_exit_status_function = { _, _, status, userdata in
            Unmanaged<Box>.fromOpaque(userdata!).takeUnretainedValue().exitStatus = Int32(status)
        }
        callbacks.pointee.channel_exit_signal_function = { _, _, signal, _, _, _, userdata in
            Unmanaged<Box>.fromOpaque(userdata!).takeUnretainedValue().exitSignal = signal.map { String(cString: $0) }
        }
        ssh_set_channel_callbacks(channel, callbacks)
        // Runs first: no callback may fire into the box once it is released (closing and
        // freeing the channel still processes packets).
        defer { ssh_remove_channel_callbacks(channel, callbacks) }
        guard ssh_channel_open_session(channel) == SSH_OK else { throw failure("open session") }
        guard ssh_channel_request_exec(channel, command) == SSH_OK else { throw failure("exec") }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var signalled = false
        let deadline = Date().addingTimeInterval(25)
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { ssh_channel_read_timeout(channel, $0.baseAddress, UInt32($0.count), 0, 500) }
            if count > 0 { output += buffer[0..<Int(count)] }
            if count < 0 || ssh_channel_is_eof(channel) != 0 && count == 0 { break }
            if !signalled, String(decoding: output, as: UTF8.self).contains(readyText) {
                guard ssh_channel_request_send_signal(channel, signal) == SSH_OK else { throw failure("signal") }
                signalled = true
            }
        }
        // Reading stops at EOF; the exit-status or exit-signal and the CLOSE may come after it.
        // This processes packets until an exit status arrives or the channel closes (the
        // exit-signal callback fires meanwhile), within the session timeout.
        let status = ssh_channel_get_exit_status(channel)
        if box.exitStatus == nil, status >= 0 { box.exitStatus = status }
        return Outcome(stdout: String(decoding: output, as: UTF8.self), exitStatus: box.exitStatus, exitSignal: box.exitSignal)
    }
}
