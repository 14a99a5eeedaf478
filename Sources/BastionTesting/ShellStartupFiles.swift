import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hides the logins' `~/.bashrc` from an sshd that tests or benchmarks start.
///
/// Debian's bash reads `~/.bashrc` even for the `bash -c` of an sshd command. A host's own
/// `.bashrc` (pyenv, cargo, …) then runs in every session: it prints into the session (root's
/// `pyenv init` prints `rm:` and "cannot rehash" lines when two sessions start at once) and
/// can cost a hundred processes per login, which is the host's noise, not what is tested or
/// measured. The command runs in a private mount namespace with an empty file bind-mounted
/// over each `.bashrc`: the host's files and mounts are untouched, the namespace ends with the
/// command, and `unshare` and `sh` exec into it, so the PID is the command's own.
public enum ShellStartupFiles {
    /// The `.bashrc` of each login whose shell is bash and that has one.
    public static func bashrc(of logins: [String]) -> [String] {
        logins.compactMap { login in
            guard let entry = getpwnam(login), let shell = entry.pointee.pw_shell, let home = entry.pointee.pw_dir,
                String(cString: shell).hasSuffix("/bash")
            else { return nil }
            let path = String(cString: home) + "/.bashrc"
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
    }

    /// Whether this process may make a private mount namespace (root with CAP_SYS_ADMIN).
    public static let canHide: Bool = {
        (try? ProcessRunner.runBlocking("unshare", ["--mount", "--propagation", "private", "true"], timeout: 10))?.status == 0
    }()

    /// `command` run where each of `files` reads as `emptyFile` (an existing empty file);
    /// `command` itself when there is nothing to hide or ``canHide`` is false. A bind that
    /// fails leaves that file visible.
    public static func hiding(_ files: [String], behind emptyFile: String, _ command: [String]) -> [String] {
        guard !files.isEmpty, canHide else { return command }
        let script = #"empty=$1; shift; while [ "$1" != -- ]; do mount --bind "$empty" "$1" 2>/dev/null; shift; done; shift; exec "$@""#
        let unshare = (try? ProcessRunner.locate("unshare")) ?? "/usr/bin/unshare"
        return [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", emptyFile] + files + ["--"] + command
    }
}
