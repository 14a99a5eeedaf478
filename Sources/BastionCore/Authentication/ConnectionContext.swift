/// Where an authentication attempt comes from, as the SSH layer saw it.
public struct ConnectionContext: Sendable, Hashable {
    public var id: ConnectionID
    public var remoteAddress: String
    public var remotePort: Int
    /// The outer connection, when this one is the inner login of an `ssh -J` jump.
    public var jumpedFrom: ConnectionID?

    public init(id: ConnectionID, remoteAddress: String, remotePort: Int, jumpedFrom: ConnectionID? = nil) {
        self.id = id
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.jumpedFrom = jumpedFrom
    }

    func auditConnection(sshUsername: String?) -> AuditEvent.Connection {
        AuditEvent.Connection(id: id, remoteAddress: remoteAddress, remotePort: remotePort, sshUsername: sshUsername)
    }

    /// `details` with `via: jump` and `jump_connection` added on an inner jump connection, so
    /// that every record of it, logins and refusals included, leads back to the outer one
    /// (whose `forward.open` names the target).
    public func auditDetails(_ details: [String: String] = [:]) -> [String: String] {
        guard let jumpedFrom else { return details }
        var details = details
        details["via"] = "jump"
        details["jump_connection"] = jumpedFrom.rawValue
        return details
    }
}
