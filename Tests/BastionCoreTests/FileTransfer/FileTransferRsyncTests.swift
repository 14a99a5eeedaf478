import BastionCore
import BastionTesting
import Foundation
import Testing

/// rsync over ssh under `file_transfer`: the remote command lines the real rsync client
/// builds, and the lines an attacker would build to have the target's rsync move files the
/// other way than Bastion judged.
@Suite("rsync under file_transfer", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/rsync")))
struct FileTransferRsyncTests {
    /// The command line `rsync ARGUMENTS` asks its remote shell to run: a fake `-e` program
    /// writes the words after `-l USER HOST` as ssh would send them (joined by spaces).
    static func remoteCommand(_ arguments: [String]) async throws -> String {
        let directory = try TemporaryDirectory(prefix: "rsync-line")
        let shell = directory.file("remote-shell")
        let line = directory.file("line")
        try "#!/bin/sh\nshift 3\nprintf '%s' \"$*\" > '\(line)'\nexit 1\n".write(toFile: shell, atomically: true, encoding: .utf8)
        guard chmod(shell, 0o755) == 0 else { throw POSIXError(.EPERM) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory.file("local")))
        let arguments = arguments.map { $0.replacingOccurrences(of: "LOCAL", with: directory.file("local")) }
        let result = try await ProcessRunner.run("rsync", ["-e", shell] + arguments, timeout: 30)
        #expect(result.status != 0, "the fake remote shell fails every transfer")
        return try String(contentsOfFile: line, encoding: .utf8)
    }

    @Test("the lines rsync builds: direction from --sender, --rsync-path=\"sudo rsync\" looked through")
    func realClientLines() async throws {
        let upload = try await Self.remoteCommand(["-a", "--delete", "LOCAL", "u@h:dir with space/"])
        #expect(upload.hasPrefix("rsync --server -"), "\(upload)")
        guard case .rsync(let sent) = FileTransferCommand.recognise(upload) else { Issue.record("\(upload)"); return }
        #expect(sent.direction == .upload)
        #expect(sent.paths == ["dir with space/"])

        let download = try await Self.remoteCommand(["-a", "u@h:/srv/data", "LOCAL"])
        guard case .rsync(let fetched) = FileTransferCommand.recognise(download) else { Issue.record("\(download)"); return }
        #expect(fetched.direction == .download && fetched.writesOnTarget == nil)

        let moving = try await Self.remoteCommand(["-a", "--remove-source-files", "--backup-dir", "b k", "u@h:/srv/data", "LOCAL"])
        guard case .rsync(let moved) = FileTransferCommand.recognise(moving) else { Issue.record("\(moving)"); return }
        #expect(moved.direction == .download && moved.writesOnTarget == "--remove-source-files")

        // rsync -M passes options to the target: a sender that writes a log or batch file.
        let logging = try await Self.remoteCommand(["-a", "-M--log-file=/etc/cron.d/x", "u@h:/srv/data", "LOCAL"])
        guard case .rsync(let logged) = FileTransferCommand.recognise(logging) else { Issue.record("\(logging)"); return }
        #expect(logged.direction == .download && logged.writesOnTarget == "--log-file")
        #expect(!FileTransferPolicy.download.permits(.rsync(logged)))
        let batch = try #require(RsyncCommand(arguments: ["--server", "--sender", "-l", "--write-batch", "/tmp/b", ".", "src"]))
        #expect(batch.writesOnTarget == "--write-batch" && !FileTransferPolicy.download.permits(.rsync(batch)))
        #expect(RsyncCommand(arguments: ["--server", "--sender", "-l", "--log-file-format=%f", ".", "src"])?.writesOnTarget == nil)

        let sudo = try await Self.remoteCommand(["-a", "--rsync-path=sudo -n rsync", "LOCAL", "u@h:/etc/x"])
        #expect(sudo.hasPrefix("sudo -n rsync --server"), "\(sudo)")
        guard case .rsync(let elevated) = FileTransferCommand.recognise(sudo) else { Issue.record("\(sudo)"); return }
        #expect(elevated.direction == .upload && elevated.paths == ["/etc/x"])

        let dash = try await Self.remoteCommand(["LOCAL", "u@h:-odd"])
        #expect(FileTransferCommand.recognise(dash) != .unparsedRsync, "rsync sends a leading-dash path as ./-odd: \(dash)")

        let daemon = try await Self.remoteCommand(["u@h::module/x", "LOCAL"])
        #expect(FileTransferCommand.recognise(daemon) == .unparsedRsync, "\(daemon)")

        for (policy, up, down, move) in [
            (FileTransferPolicy.allow, true, true, true), (.download, false, true, false), (.upload, true, false, false), (.deny, false, false, false),
        ] {
            #expect(policy.permits(FileTransferCommand.recognise(upload)) == up, "\(policy) upload")
            #expect(policy.permits(FileTransferCommand.recognise(download)) == down, "\(policy) download")
            #expect(policy.permits(FileTransferCommand.recognise(moving)) == move, "\(policy) download with --remove-source-files")
            #expect(policy.permits(FileTransferCommand.recognise(daemon)) == (policy == .allow), "\(policy) daemon")
        }
    }

    @Test("lines that would turn the target's rsync around are not judged: only allow runs them")
    func hostileLines() {
        // The target's rsync (popt) reads options after the paths too.
        for line in [
            "rsync --server -logDtpre.iLsfxCIvu . dst --sender",
            "rsync --server -logDtpre.iLsfxCIvu . dst -e.x --sender",
            "rsync --server -logDtpre.iLsfxCIvu --sender . dst",
            "rsync --server --backup-dir --sender -b . dst",
            "rsync --server --server --sender -l . dst",
            "rsync --server --daemon .",
            "rsync --server --daemon=x .",
            "rsync --server -l --no-such . ",
            "rsync --server -l dst",
            "rsync --server -l . dst; rm -rf /",
            "sudo rsync --server -l . dst && id",
            "rsync --server -l . $(id)",
        ] {
            let command = FileTransferCommand.recognise(line)
            #expect(command == .unparsedRsync, "\(line): \(String(describing: command))")
            for policy in [FileTransferPolicy.download, .upload, .deny] {
                #expect(!policy.permits(command), "\(policy) ran \(line)")
            }
        }
        // rsync that copies on the target itself is a command like cp, not a transfer.
        #expect(FileTransferCommand.recognise("rsync -a /srv/a /srv/b") == nil)
        #expect(FileTransferCommand.recognise("rsync -a /srv/a /srv/b && ls") == nil)
        // sudo in front of the other transfer programs is looked through too.
        #expect(FileTransferCommand.recognise("sudo /usr/lib/openssh/sftp-server") == .sftpServer)
        #expect(FileTransferCommand.recognise("sudo -u www-data scp -t /srv") == .scp(SCPCommand(arguments: ["-t", "/srv"])!))
        #expect(FileTransferCommand.recognise("sudo scp -t /srv; id") == .unparsedSCP)
        #expect(FileTransferCommand.recognise("sudo ls") == nil)
    }
}
