/// A failure of the SSH layer (bind, listen, key loading).
public struct SSHError: Error, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let bind = Code(name: "bind")
        public static let hostKey = Code(name: "hostKey")
        public static let resources = Code(name: "resources")
    }

    public var code: Code
    public var detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "ssh \(code): \(detail)" }
}
