import ArgumentParser
import BastionApp
import BastionCore

/// `bastiond ca show`: the public halves of Bastion's CAs.
struct CAShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print both CA public keys.")

    @OptionGroup var options: ConfigOption

    struct Group: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ca", abstract: "Bastion's certificate authorities.", subcommands: [CAShow.self]
        )
    }

    func run() throws {
        let environment = try Startup.open(options.config)
        print("# user CA: signs engineers' certificates; trusted only by Bastion itself")
        print(environment.keys.userAuthorityPublicKey.authorizedKeysLine + " bastion-user-ca")
        print("# upstream CA: signs per-session certificates; install on targets as TrustedUserCAKeys")
        print(environment.keys.upstreamAuthorityPublicKey.authorizedKeysLine + " bastion-upstream-ca")
    }
}
