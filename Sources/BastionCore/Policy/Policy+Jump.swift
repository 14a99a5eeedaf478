extension Policy {
    /// The target a `direct-tcpip` destination names, which Bastion answers with its own SSH
    /// server (`ssh -J`): a target's name on port 22 or the target's own port (what
    /// `ssh -J bastion root@web01` sends), or the target's address and port. nil: not a target
    /// (`allow_direct_tcpip` decides).
    public func jumpTarget(host: String, port: Int) -> TargetDefinition? {
        let named = host.lowercased()
        if let target = targets.values.first(where: { $0.name.lowercased() == named }), port == 22 || port == target.port {
            return target
        }
        return targets.values.filter { $0.host.lowercased() == named && $0.port == port }.min { $0.name < $1.name }
    }
}
