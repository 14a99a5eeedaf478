import BastionCore
import CLibSSH
import Foundation
import Logging

extension FrontDoorConnection {
    /// publickey: a probe (`signatureState` NONE) or a signed request (VALID, the
    /// signature already checked by libssh). Enrolled keys get a partial success so that
    /// only keyboard-interactive (the TOTP code) is offered next.
    func authenticatePublicKey(username sent: String, key: ssh_key, signatureState: CChar) -> Int32 {
        // Inside a jump the client sends the target login alone; the target is the channel's.
        let username = jump?.request(login: sent) ?? sent
        authentication.sshUsername = username
        let state = Int32(signatureState)
        let signed: Bool
        switch state {
        case Int32(SSH_PUBLICKEY_STATE_NONE.rawValue): signed = false
        case Int32(SSH_PUBLICKEY_STATE_VALID.rawValue): signed = true
        default:
            // A wrong signature: libssh already refuses; count it.
            return deny()
        }
        let offered = LibSSH.blob(of: key).flatMap(OfferedKey.init(blob:))
        let probed = authentication.probedCertificate
        authentication.probedCertificate = nil
        switch services.authenticator.evaluateKey(
            offered, username: username, signed: signed, connection: context, probed: probed, requiredUser: jump?.user
        ) {
        case .acceptable(let verified):
            authentication.probedCertificate = verified
            return LibSSH.authSuccess  // answers the probe with PK_OK
        case .needsTOTP(let pending):
            authentication.pending = pending
            ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_INTERACTIVE))
            return LibSSH.authPartial
        case .authenticated(let identity):
            self.identity = identity
            logger.info("authenticated", metadata: ["user": "\(identity.user.name)", "method": "\(identity.methodName)"])
            return LibSSH.authSuccess
        case .denied(let reason):
            logger.info("publickey denied", metadata: ["user": "\(username)", "reason": "\(reason)"])
            if case .internalFailure = reason { announceUnavailable() }
            return deny()
        }
    }

    /// Tells the client, once per connection, that the refusal is Bastion's own failure (its
    /// database or audit log does not answer), not a wrong key: OpenSSH prints the banner, so
    /// an engineer knows to retry rather than to re-enrol. It names no cause beyond that.
    private func announceUnavailable() {
        guard !authentication.unavailableAnnounced else { return }
        authentication.unavailableAnnounced = true
        guard let banner = ssh_string_from_char(Self.unavailableBanner) else { return }
        defer { ssh_string_free(banner) }
        _ = ssh_send_issue_banner(session, banner)
    }

    static let unavailableBanner = "bastion: temporarily unavailable, logins are refused until it recovers; try again shortly\r\n"

    /// Everything libssh has no server callback for: keyboard-interactive (the TOTP
    /// step), other auth methods, and channel or global requests Bastion refuses.
    /// Returning 1 lets libssh send the default reply, which is always a refusal.
    func handleMessage(_ message: ssh_message) -> Int32 {
        // Hanging up with a reason: answer nothing more, so that the last write before the
        // disconnect is the disconnect itself (LibSSH.disconnect).
        if phase.disconnectMessage != nil { return 0 }
        let type = ssh_message_type(message)
        let subtype = ssh_message_subtype(message)
        switch type {
        case Int32(SSH_REQUEST_AUTH.rawValue):
            return handleAuthMessage(message, method: subtype)
        case Int32(SSH_REQUEST_CHANNEL_OPEN.rawValue):
            if subtype == Int32(SSH_CHANNEL_DIRECT_TCPIP.rawValue) {
                return openDirectTCPIP(message)
            } else if subtype == Int32(SSH_CHANNEL_X11.rawValue) {
                refuseForwarding("X11 channel")
            }
            return 1
        case Int32(SSH_REQUEST_CHANNEL.rawValue):
            switch subtype {
            case Int32(SSH_CHANNEL_REQUEST_X11.rawValue): refuseForwarding("X11 forwarding")
            case Int32(SSH_CHANNEL_REQUEST_UNKNOWN.rawValue): break
            default: break
            }
            return 1
        case Int32(SSH_REQUEST_GLOBAL.rawValue):
            if subtype == Int32(SSH_GLOBAL_REQUEST_TCPIP_FORWARD.rawValue) {
                refuseForwarding("remote port forwarding (tcpip-forward)")
            }
            return 1
        default:
            return 1
        }
    }

    private func handleAuthMessage(_ message: ssh_message, method: Int32) -> Int32 {
        let username = ssh_message_auth_user(message).map { String(cString: $0) } ?? ""
        switch method {
        case Int32(SSH_AUTH_METHOD_INTERACTIVE):
            guard let pending = authentication.pending else {
                services.authenticator.refuseMethod("keyboard-interactive", username: username, connection: context)
                _ = deny()
                return 1
            }
            if ssh_message_auth_kbdint_is_response(message) == 0 {
                askForCode(message, user: pending.user)
                return 0
            }
            let answers = ssh_userauth_kbdint_getnanswers(session)
            let code = answers >= 1 ? ssh_userauth_kbdint_getanswer(session, 0).map { String(cString: $0) } ?? "" : ""
            switch services.authenticator.verifyCode(code, for: pending, connection: context) {
            case .authenticated(let identity):
                self.identity = identity
                authentication.pending = nil
                logger.info("authenticated", metadata: ["user": "\(identity.user.name)", "method": "\(identity.methodName)"])
                ssh_message_auth_reply_success(message, 0)
                return 0
            case .denied(let reason):
                logger.info("verification code denied", metadata: ["user": "\(pending.user)", "reason": "\(reason)"])
                // The store may go away between the key step and the code step.
                if case .internalFailure = reason { announceUnavailable() }
                authentication.wrongCodes += 1
                if authentication.wrongCodes >= configuration.maxCodeAttempts || reason == .lockedOut || reason == .userLocked {
                    phase = .hangingUp(message: nil)
                }
                return 1
            }
        case Int32(SSH_AUTH_METHOD_NONE):
            // OpenSSH opens with "none" to learn the methods; not an attempt.
            return 1
        case Int32(SSH_AUTH_METHOD_PASSWORD):
            services.authenticator.refuseMethod("password", username: username, connection: context)
            _ = deny()
            return 1
        default:
            services.authenticator.refuseMethod("method \(method)", username: username, connection: context)
            _ = deny()
            return 1
        }
    }

    private func askForCode(_ message: ssh_message, user: UserName) {
        let prompt = strdup("Verification code: ")
        defer { free(prompt) }
        var prompts: [UnsafePointer<CChar>?] = [UnsafePointer(prompt)]
        var echo: [CChar] = [0]
        _ = prompts.withUnsafeMutableBufferPointer { promptBuffer in
            echo.withUnsafeMutableBufferPointer { echoBuffer in
                ssh_message_auth_interactive_request(
                    message, "Bastion two-factor authentication", "Enter the current TOTP code for \(user).",
                    1, promptBuffer.baseAddress, echoBuffer.baseAddress
                )
            }
        }
    }

    private func deny() -> Int32 {
        authentication.deniedAttempts += 1
        if authentication.deniedAttempts >= configuration.maxAuthAttempts { phase = .hangingUp(message: nil) }
        return LibSSH.authDenied
    }

    func refuseForwarding(_ what: String) {
        let event = AuditEvent(
            type: .forwardRefused, time: services.clock.now(), outcome: .failure,
            actor: identity.map { .init(user: $0.user.name.rawValue, method: $0.methodName) },
            connection: .init(id: context.id, remoteAddress: context.remoteAddress, remotePort: context.remotePort, sshUsername: authentication.sshUsername),
            reason: "\(what) is not allowed by policy"
        )
        do { try services.audit.append(event) } catch {
            logger.error("could not audit a refused forwarding request", metadata: ["error": "\(error)"])
        }
    }
}
