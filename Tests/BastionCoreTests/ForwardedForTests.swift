import BastionCore
import Testing

/// `http.trusted_proxies`: whose `Forwarded`/`X-Forwarded-For` is believed, and what of it.
@Suite("Forwarded and X-Forwarded-For")
struct ForwardedForTests {
    static let resolver = ForwardedFor(trustedProxies: try? CIDRList("127.0.0.1/32,10.0.0.0/8"))

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var peer = "127.0.0.1"
        var forwarded: [String] = []
        var xForwardedFor: [String] = []
        var expected: ForwardedFor.Origin
        var testDescription: String { name }
    }

    static func proxied(_ address: String, port: Int = 0, via proxy: String = "127.0.0.1") -> ForwardedFor.Origin {
        ForwardedFor.Origin(address: address, port: port, proxy: proxy)
    }

    static let peer = ForwardedFor.Origin(address: "127.0.0.1", port: 40_000)

    static let cases: [Case] = [
        Case(name: "from a trusted proxy, its X-Forwarded-For", xForwardedFor: ["203.0.113.7"], expected: proxied("203.0.113.7")),
        Case(
            name: "from anyone else, headers are ignored", peer: "198.51.100.9", xForwardedFor: ["203.0.113.7"],
            expected: .init(address: "198.51.100.9", port: 40_000)
        ),
        Case(name: "a trusted proxy's own request (a health check)", expected: peer),
        // The client wrote 1.1.1.1 itself; the proxy appended the address it saw.
        Case(name: "an entry the client forged is passed over", xForwardedFor: ["1.1.1.1, 203.0.113.7"], expected: proxied("203.0.113.7")),
        Case(name: "several fields are one list", xForwardedFor: ["1.1.1.1", "203.0.113.7"], expected: proxied("203.0.113.7")),
        Case(name: "further trusted proxies are walked past", xForwardedFor: ["198.51.100.2, 10.0.0.5"], expected: proxied("198.51.100.2")),
        Case(name: "a chain of trusted proxies only: the first", xForwardedFor: ["10.0.0.9, 10.0.0.5"], expected: proxied("10.0.0.9")),
        Case(name: "IPv6 and ports", xForwardedFor: ["[2001:db8::5]:4711"], expected: proxied("2001:db8::5", port: 4_711)),
        Case(
            name: "Forwarded, with other parameters", forwarded: ["for=192.0.2.60;proto=https;by=203.0.113.43"],
            expected: proxied("192.0.2.60")
        ),
        Case(
            name: "Forwarded with a quoted IPv6 node and a forged first element",
            forwarded: [#"for=1.1.1.1, For="[2001:db8:cafe::17]:4711""#], expected: proxied("2001:db8:cafe::17", port: 4_711)
        ),
        Case(
            name: "Forwarded wins over X-Forwarded-For", forwarded: ["for=192.0.2.60"], xForwardedFor: ["203.0.113.7"],
            expected: proxied("192.0.2.60")
        ),
        Case(name: "a mapped IPv4 peer is the proxy it is", peer: "::ffff:10.0.0.1", xForwardedFor: ["203.0.113.7"], expected: proxied("203.0.113.7", via: "::ffff:10.0.0.1")),
    ]

    @Test("whose header is believed, and which hop is the client", arguments: cases)
    func resolves(_ example: Case) {
        let origin = Self.resolver.origin(
            peerAddress: example.peer, peerPort: 40_000, forwarded: example.forwarded, xForwardedFor: example.xForwardedFor
        )
        #expect(origin == example.expected)
    }

    @Test(
        "a chain that does not parse is not believed: the peer stands",
        arguments: [
            (["for=unknown"], [String]()), (["for=_hidden"], []), (["proto=https"], []), (["for=1.2.3.4;for=5.6.7.8"], []), (["for"], []),
            ([], ["evil"]), ([], ["203.0.113.7,,"]), ([], ["300.1.1.1"]), ([], ["1.2.3.4:99999"]), ([], ["[2001:db8::1"]),
            ([], ["1.2.3.4, not-an-address"]), ([], [String(repeating: "1", count: 100)]),
        ]
    )
    func malformed(forwarded: [String], xForwardedFor: [String]) {
        let origin = Self.resolver.origin(peerAddress: "127.0.0.1", peerPort: 40_000, forwarded: forwarded, xForwardedFor: xForwardedFor)
        #expect(origin == Self.peer)
    }

    @Test("with no trusted proxies, nothing is believed")
    func noneTrusted() {
        let origin = ForwardedFor(trustedProxies: nil).origin(
            peerAddress: "127.0.0.1", peerPort: 1, forwarded: ["for=192.0.2.60"], xForwardedFor: ["203.0.113.7"]
        )
        #expect(origin == .init(address: "127.0.0.1", port: 1))
    }
}
