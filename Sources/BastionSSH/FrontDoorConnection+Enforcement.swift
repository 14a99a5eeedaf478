import BastionCore
import Foundation
import Logging

extension FrontDoorConnection {
    /// The enforcement point as the policy stands (sessions' idle timeout included).
    var enforcementPoint: EnforcementPoint {
        EnforcementPoint(policy: services.sessions.policy, idleTimeout: services.sessions.settings.idleTimeout)
    }

    /// Reads what the enforcement point decides on: the account, the registry's end request,
    /// the session's grant. Called once a second and at every new channel, never per packet.
    func enforcementFacts(now: Date) -> EnforcementFacts {
        guard let identity else { return EnforcementFacts(account: .unreadable) }
        let account: EnforcementFacts.Account
        switch Result(catching: { try services.sessions.users.user(named: identity.user.name) }) {
        case .success(let user?): account = .current(user)
        case .success(nil): account = .removed
        case .failure: account = .unreadable
        }
        var certificateValidBefore: Date?
        if case .certificate(let certificate) = identity.method {
            certificateValidBefore = Date(timeIntervalSince1970: TimeInterval(certificate.validBefore))
        }
        let registry = services.sessions.registry
        var facts = EnforcementFacts(
            account: account, certificateValidBefore: certificateValidBefore, shuttingDown: closeRequestedFlag,
            endRequest: forwarding.recordID.flatMap { id in try? registry.endRequest(id: id) },
            sessions: channels.compactMap { $0.live.map { sessionFacts($0, now: now) } }, sessionChannels: channels.count,
            forwards: forwarding.open.map(\.endpoint), connectionRank: Self.connectionRank(self, account: account, policy: services.sessions.policy)
        )
        if !channels.contains(where: \.isBusy) {
            // Nothing runs on a session channel: idle since the last forwarded byte, the last
            // channel's end, or the login (a jump's bytes are its inner sessions').
            facts.lastActivity = ([identity.authenticatedAt, lastChannelClosedAt] + (forwarding.open + jumps.map(\.forward)).map(\.lastActivity))
                .compactMap { $0 }.max()
        }
        return facts
    }

    /// What the enforcement point needs of one relayed session: its limits, grant and kill request.
    private func sessionFacts(_ session: LiveSession, now: Date) -> EnforcementFacts.Session {
        var grant: EnforcementFacts.Grant?
        if let grantID = session.grantID {
            switch Result(catching: { try services.sessions.elevation?.request(id: grantID) }) {
            case .success(let request): grant = request?.isActive(at: now) == true ? .active : .ended(id: grantID)
            case .failure: grant = .unreadable
            }
        }
        return EnforcementFacts.Session(
            id: session.id, login: session.login, target: session.target, startedAt: session.startedAt, maxDuration: session.maxDuration,
            lastActivity: session.relay.lastActivity, grant: grant, endRequest: try? services.sessions.registry.endRequest(id: session.id)
        )
    }

    /// The connection's rank among its user's connections, read only when a role of the user
    /// sets `max_connections`: the rank scans every open connection, and this runs once a
    /// second for each of them.
    private static func connectionRank(_ connection: FrontDoorConnection, account: EnforcementFacts.Account, policy: Policy) -> Int {
        guard case .current(let user) = account, policy.maxConnections(forRoles: user.roles) != nil else { return 1 }
        return connection.registry.rank(of: connection)
    }

    /// The once-a-second check of an authenticated connection; carries out the decision.
    func enforce(now: Date) {
        guard identity != nil, phase.isOpen else { return }
        switch enforcementPoint.evaluate(enforcementFacts(now: now), now: now) {
        case .proceed:
            break
        case .close(let sessions, let destinations):
            for channel in channels {
                if let id = channel.live?.id, let reason = sessions[id] { channel.terminate(reason, now: now) }
            }
            if !destinations.isEmpty {
                closeForwards(reason: .forwardNotAllowed(destination: destinations.sorted().joined(separator: ", "))) {
                    destinations.contains($0.endpoint.destination)
                }
            }
        case .end(let reason):
            end(reason, now: now)
        }
    }

    /// Asks the enforcement point whether a new channel may open; a refusal that ends the
    /// connection (a lock, an expired certificate) ends it at once.
    func admitChannel(_ request: EnforcementPoint.ChannelRequest) -> Bool {
        guard let reason = refusalOfChannel(request) else { return true }
        if case .directTCPIP(let forward) = request {
            refuseForwarding("local port forwarding (direct-tcpip) to \(forward.destination)")
        }
        if reason.endsConnection { end(reason, now: services.clock.now()) }
        return false
    }

    /// Why the enforcement point refuses a new channel now, if it does.
    func refusalOfChannel(_ request: EnforcementPoint.ChannelRequest) -> EnforcementReason? {
        let now = services.clock.now()
        guard case .refuse(let reason) = enforcementPoint.admit(request, facts: enforcementFacts(now: now), now: now) else { return nil }
        return reason
    }

    /// Ends everything on the connection for `reason`, telling the user and the audit log.
    ///
    /// Each relayed session ends through its own close sequence (message, exit, `session.end`);
    /// each command gets the message on stderr and exit status 1; a connection with no session
    /// channel gets the message as the SSH disconnect reason, which `ssh` prints.
    func end(_ reason: EnforcementReason, now: Date) {
        phase = .ending
        closeForwards(reason: reason) { _ in true }
        audit(.connectionEnd, outcome: .success, target: "", reason: reason.auditReason, details: ["end_reason": reason.auditReason])
        endForwardRow(at: now)
        logger.info("connection ended by policy", metadata: ["reason": "\(reason.auditReason)"])
        guard channels.isEmpty else {
            // The event loop writes each line, with the exit, EOF and CLOSE, then hangs up.
            for channel in channels { channel.end(reason, now: now) }
            return
        }
        phase = .hangingUp(message: "bastion: \(reason.userMessage)")
    }

    static func lineForUser(_ reason: EnforcementReason, terminal: Bool) -> [UInt8] {
        Array("\(terminal ? "\r\n" : "")bastion: \(reason.userMessage)\(terminal ? "\r\n" : "\n")".utf8)
    }
}
