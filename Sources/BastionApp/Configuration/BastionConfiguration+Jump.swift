import BastionCore
import Foundation

extension BastionConfiguration {
    /// Where engineers reach the SSH front door (`ssh-config`'s `ProxyJump`): `ssh.public_address`,
    /// else the host of `http.public_url` with the port of `ssh.listen`.
    public var sshPublicAddress: ListenAddress {
        if let address = ssh.publicAddress { return address }
        let host = URLComponents(string: http.publicURL)?.host.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) }
        return ListenAddress(host: host ?? ssh.listen.host, port: ssh.listen.port)
    }
}
