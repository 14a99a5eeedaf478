import CLibSSH
import Foundation

/// A libssh client for what the stock `ssh` will not do on purpose: trying a password or
/// keyboard-interactive before any key, which a hostile client may well do.
enum RawSSHClient {
    struct Results {
        var password: Bool
        var keyboardInteractive: Bool
    }

    static func tryPasswordAndKeyboardInteractive(port: Int, user: String) throws -> Results {
        guard let session = ssh_new() else { throw HarnessError(message: "ssh_new failed") }
        defer {
            ssh_disconnect(session)
            ssh_free(session)
        }
        var portValue = UInt32(port)
        var noConfig = false
        ssh_options_set(session, SSH_OPTIONS_HOST, "127.0.0.1")
        ssh_options_set(session, SSH_OPTIONS_PORT, &portValue)
        ssh_options_set(session, SSH_OPTIONS_USER, user)
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &noConfig)
        ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null")
        guard ssh_connect(session) == SSH_OK else {
            throw HarnessError(message: "connect failed: \(String(cString: ssh_get_error(UnsafeMutableRawPointer(session))))")
        }
        let password = ssh_userauth_password(session, nil, "hunter2") == Int32(SSH_AUTH_SUCCESS.rawValue)
        let interactive = ssh_userauth_kbdint(session, nil, nil)
        return Results(password: password, keyboardInteractive: interactive == Int32(SSH_AUTH_SUCCESS.rawValue))
    }
}
