/// Where an authentication attempt comes from, as the SSH layer saw it.
public struct ConnectionContext: Sendable, Hashable {
    public var id: ConnectionID
    public var remoteAddress: String
    public var remotePort: Int

    public init(id: ConnectionID, remoteAddress: String, remotePort: Int) {
        self.id = id
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
    }

    func auditConnection(sshUsername: String?) -> AuditEvent.Connection {
        AuditEvent.Connection(id: id, remoteAddress: remoteAddress, remotePort: remotePort, sshUsername: sshUsername)
    }
}
