import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// The authentication state machine against a second SSH client, Paramiko (from PyPI,
/// `make test-clients`), made to do what the stock `ssh` never does: open a channel before
/// authenticating, after only the key probe, or after the key step without the TOTP code;
/// offer one key and sign with another. Each must leave the connection unauthenticated.
@Suite("Authentication state machine (Paramiko)")
struct AuthenticationStateTests {
    static let script = """
        import json, socket, sys
        import paramiko

        port, user, key_path, cert_path, other_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
        results = {}

        def transport():
            t = paramiko.Transport(socket.create_connection(("127.0.0.1", int(port))))
            t.start_client(timeout=10)
            # libssh drops a request whose signature does not verify without a reply (and a
            # channel open before authentication likewise): the client would wait 30 s.
            t.auth_timeout = 3
            return t

        def session_opens(t):
            try:
                channel = t.open_session(timeout=2)
                channel.exec_command("whoami")
                return channel.recv_exit_status() == 0
            except Exception:
                return False

        class OfferOneSignWithOther(paramiko.PKey):
            # Offers `offered`'s blob and name, signs with `signer`.
            def __init__(self, offered, signer):
                self.offered, self.signer = offered, signer
                self.public_blob = None
            def asbytes(self): return self.offered.asbytes()
            def get_name(self): return self.offered.get_name()
            def sign_ssh_data(self, data, algorithm=None): return self.signer.sign_ssh_data(data)
            def can_sign(self): return True

        key = paramiko.Ed25519Key.from_private_key_file(key_path)
        other = paramiko.Ed25519Key.from_private_key_file(other_path)
        certified = paramiko.Ed25519Key.from_private_key_file(key_path)
        certified.load_certificate(cert_path)

        t = transport()
        results["channel_before_auth"] = session_opens(t)
        t.close()

        t = transport()
        try:
            t.auth_publickey(user, OfferOneSignWithOther(key, other))
        except paramiko.AuthenticationException:
            pass
        results["offer_a_sign_b_authenticated"] = t.is_authenticated()
        results["offer_a_sign_b_channel"] = session_opens(t)
        t.close()

        t = transport()
        try:
            partial = t.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            partial = None
        results["key_step_partial"] = partial
        results["key_step_authenticated"] = t.is_authenticated()
        results["skip_totp_channel"] = session_opens(t)
        t.close()

        t = transport()
        t.auth_publickey(user, certified)
        results["certificate_authenticated"] = t.is_authenticated()
        results["certificate_channel"] = session_opens(t)
        t.close()
        print(json.dumps(results))
        """

    @Test("no channel before authentication, after the key step alone, or with a signature from another key; a certificate works")
    func paramiko() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let other = try await Engineer.makeKey(in: bastion.directory, name: "mallory", type: .ed25519)
            let version = try await PythonClients.versions(of: "paramiko", module: "paramiko")
            #expect(version.pinned != nil && version.running == version.pinned, "Paramiko from PyPI, as pinned: \(version)")
            let scriptPath = bastion.directory.file("auth-states.py")
            try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
            let run = try await ProcessRunner.run(
                PythonClients.python, [scriptPath, String(bastion.endpoints.sshPort), "alice", alice.keyPath, alice.certificatePath, other], environment: try PythonClients.environment, timeout: 60
            )
            try #require(run.status == 0, "\(run)")
            let results = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run)")
            #expect(results["channel_before_auth"] as? Bool == false)
            #expect(results["offer_a_sign_b_authenticated"] as? Bool == false)
            #expect(results["offer_a_sign_b_channel"] as? Bool == false)
            #expect((results["key_step_partial"] as? [String]) == ["keyboard-interactive"], "\(results)")
            #expect(results["key_step_authenticated"] as? Bool == false)
            #expect(results["skip_totp_channel"] as? Bool == false)
            #expect(results["certificate_authenticated"] as? Bool == true, "\(results)")
            #expect(results["certificate_channel"] as? Bool == true, "\(results)")
            #expect(try bastion.auditRecords("auth.login").count == 2, "the cert fetch and Paramiko's certificate login only")
        }
    }

    @Test("certificates.source_address: a certificate works from the address it was issued to, and from no other")
    func sourceAddressEnforced() async throws {
        try await withBastion(configure: { $0.certificates.bindSourceAddress = true }) { bastion in
            let alice = try await bastion.enroll("alice")
            let certificate = try await alice.fetchCertificate()
            #expect(certificate.criticalOptions["source-address"] == "127.0.0.1")
            let here = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(here.status == 0, "\(here)")
            let elsewhere = try await alice.ssh(["whoami"], answer: .none, useCertificate: true, options: ["-b", "127.0.9.9"])
            #expect(elsewhere.status == 255, "\(elsewhere)")
            let reasons = try bastion.denialReasons()
            #expect(reasons.contains { $0.contains("source") }, "\(reasons)")
        }
    }
}
