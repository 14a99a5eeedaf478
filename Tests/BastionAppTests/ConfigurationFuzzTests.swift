@testable import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// The configuration file and Slack's button payloads, mutated (`Mutator`): every input is
/// either accepted or refused with an error naming file and key, never a trap.
@Suite("Fuzzed configuration and webhook payloads")
struct ConfigurationFuzzTests {
    static let configuration = """
        [server]
        data_dir = ".bastion"
        [ssh]
        listen = "127.0.0.1:2222"
        max_startups = "64:30:4096"
        penalties = "authfail:5s min:15s"
        trusted_proxies = ["10.0.0.2/32"]
        kex_algorithms = ["curve25519-sha256"]
        [auth]
        lockout = "15m"
        [roles.ops]
        targets = ["web*", "label:env=prod"]
        logins = ["root"]
        max_session = "8h"
        allow_direct_tcpip = ["10.0.0.9:5432"]
        [targets.web01]
        address = "10.0.0.5:22"
        host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
        labels = { env = "prod" }
        [[siem.sinks]]
        name = "file"
        kind = "file"
        path = "/var/log/bastion.jsonl"
        """

    @Test("bastiond.toml: accepted, or refused naming the file")
    func configuration() {
        var mutator = Mutator(seeds: [Array(Self.configuration.utf8)], seed: 11)
        for round in 0..<Mutator.iterations(default: 1_500) {
            let text = String(decoding: mutator.next(), as: UTF8.self)
            do {
                _ = try BastionConfiguration.parse(text, file: "fuzz.toml")
            } catch {
                if error.file != "fuzz.toml" || error.key.isEmpty { Issue.record("round \(round): \(error)") }
            }
        }
    }

    /// Inputs the fuzz test found aborting the process inside TOMLKit (toml++ assertions).
    @Test(
        "inputs that aborted TOMLKit are refused with their line",
        arguments: [
            ("[\u{FFFD}server]\n", 1, "a key was expected, not U+FFFD"),
            ("[server]\n[\rssh]\n", 2, "a key was expected"),
            ("[server]\n[ = data_dir = \".bastion\"\n", 2, "a key was expected, not \"=\""),
            ("[roles.ops]\ntargets = [}web*\"]\n", 2, "a value was expected, not \"}\""),
            ("[ssh]\nlisten = \"127.0.0.1:2222\"\u{0}\n", 2, "U+0000"),
        ]
    )
    func abortingInputs(text: String, line: Int, reason: String) {
        #expect(throws: ConfigurationError.self) { try BastionConfiguration.parse(text, file: "fuzz.toml") }
        do { _ = try BastionConfiguration.parse(text, file: "fuzz.toml") } catch {
            #expect(error.line == line && error.key == "(syntax)", "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test("the precheck passes what TOMLKit accepts: strings with any character, comments, arrays over lines, inline tables")
    func validInputs() throws {
        let text = """
            # Ünïcödé in a comment
            [ssh] # and after a header
            listen = "127.0.0.1:2222" # "quoted" in a comment
            kex_algorithms = [
                "curve25519-sha256", # first
                "diffie-hellman-group16-sha512",
            ]
            [targets."web.01"]
            address = '10.0.0.5:22'
            host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
            labels = { env = "prod", "team" = "Zürich ops" }
            """
        let configuration = try BastionConfiguration.parse(text.replacingOccurrences(of: "\n", with: "\r\n"), file: "ok.toml")
        #expect(configuration.policy.targets["web.01"]?.labels["team"] == "Zürich ops")
    }

    @Test("Slack's block_actions payloads and request signatures")
    func slack() {
        let payload = #"{"type":"block_actions","user":{"id":"U123"},"actions":[{"action_id":"bastion_approve","value":"r-1a2b3c4d5e6f"}]}"#
        let body = Array(("payload=" + (payload.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")).utf8)
        let signature = SlackRequestSignature(signingSecret: "8f742231b10e8888abcd99yyyzzz85a5")
        var mutator = Mutator(seeds: [body, Array(("payload=" + payload).utf8)], seed: 12)
        for _ in 0..<Mutator.iterations() {
            let input = mutator.next()
            _ = SlackClick(formBody: input)
            _ = signature.problem(signature: "v0=" + String(decoding: input.prefix(64), as: UTF8.self), timestamp: "1800000000", body: input, now: Date())
        }
    }
}
