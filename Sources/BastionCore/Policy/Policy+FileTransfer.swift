extension Policy {
    /// `file_transfer` for a session as `login` on `target`: what the roles that grant that
    /// login there allow together (a `download` role and an `upload` role make `allow`), as
    /// targets and logins add up across roles. No granting role: `deny` (fail closed).
    public func fileTransfer(forRoles roleNames: [String], login: String, on target: TargetDefinition) -> FileTransferPolicy {
        let granting = known(roleNames).filter {
            $0.grants(target: target) && ($0.logins.contains(login) || $0.elevatedLogins.contains(login))
        }
        let mayRead = granting.contains { $0.fileTransfer == .allow || $0.fileTransfer == .download }
        let mayWrite = granting.contains { $0.fileTransfer == .allow || $0.fileTransfer == .upload }
        switch (mayRead, mayWrite) {
        case (true, true): return .allow
        case (true, false): return .download
        case (false, true): return .upload
        case (false, false): return .deny
        }
    }
}
