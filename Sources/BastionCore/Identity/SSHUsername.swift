/// What the SSH username asks for.
///
/// OpenSSH splits `ssh root@web01@bastion` at the last `@`, so Bastion receives
/// `root@web01`: a login on a target. A plain name addresses Bastion itself.
public enum SSHUsername: Sendable, Hashable {
    /// `alice`: talk to Bastion (cert, whoami, …) as this user.
    case bastion(UserName)
    /// `root@web01`: open a relayed session as `login` on `target`; the Bastion user is
    /// whoever owns the presented certificate.
    case target(login: String, target: String)

    public init?(_ text: String) {
        if let at = text.firstIndex(of: "@") {
            let login = String(text[..<at])
            let target = String(text[text.index(after: at)...])
            guard UserName.isValid(login), Self.isValidTargetName(target) else { return nil }
            self = .target(login: login, target: target)
        } else {
            guard let name = UserName(text) else { return nil }
            self = .bastion(name)
        }
    }

    /// The username as the client sent it.
    public var text: String {
        switch self {
        case .bastion(let name): name.rawValue
        case .target(let login, let target): "\(login)@\(target)"
        }
    }

    static func isValidTargetName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
    }
}
