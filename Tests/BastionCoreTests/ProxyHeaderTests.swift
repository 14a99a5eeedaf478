import BastionCore
import BastionTesting
import Testing

/// PROXY protocol v2 headers: what HAProxy's `send-proxy-v2` sends, and what must be refused.
@Suite("PROXY v2 header")
struct ProxyHeaderTests {
    static func header(command: UInt8 = 0x21, family: UInt8 = 0x11, body: [UInt8]) -> [UInt8] {
        ProxyHeader.signature + [command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static let ipv4Body: [UInt8] = [203, 0, 113, 9, 127, 0, 0, 1, 0x15, 0xB3, 0x08, 0xAE]  // 203.0.113.9:5555 -> 127.0.0.1:2222

    @Test("TCP over IPv4, with TLVs after the addresses and the client's bytes after the header")
    func ipv4() {
        let bytes = Self.header(body: Self.ipv4Body + [0x04, 0x00, 0x01, 0x00]) + Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)
        #expect(ProxyHeader.parse(bytes) == .header(ProxyHeader(source: ("203.0.113.9", 5555)), length: 32))
    }

    @Test("TCP over IPv6, written as RFC 5952 says")
    func ipv6() {
        var body = [UInt8](repeating: 0, count: 36)
        body[0] = 0x20; body[1] = 0x01; body[2] = 0x0d; body[3] = 0xb8; body[15] = 0x01
        body[32] = 0x00; body[33] = 0x16
        #expect(ProxyHeader.parse(Self.header(family: 0x21, body: body)) == .header(ProxyHeader(source: ("2001:db8::1", 22)), length: 52))
        var mapped = [UInt8](repeating: 0, count: 36)
        mapped[10] = 0xFF; mapped[11] = 0xFF; mapped[12] = 10; mapped[15] = 7
        #expect(ProxyHeader.parse(Self.header(family: 0x21, body: mapped)) == .header(ProxyHeader(source: ("::ffff:10.0.0.7", 0)), length: 52))
    }

    @Test("LOCAL (the proxy's own health check) names no client")
    func local() {
        #expect(ProxyHeader.parse(Self.header(command: 0x20, family: 0x00, body: [])) == .header(ProxyHeader(source: nil), length: 16))
    }

    @Test("a prefix asks for more; junk, v1, other versions, families and commands are refused")
    func refusals() {
        let whole = Self.header(body: Self.ipv4Body)
        #expect(ProxyHeader.parse(Array(whole.prefix(5))) == .incomplete(needed: 16))
        #expect(ProxyHeader.parse(Array(whole.prefix(20))) == .incomplete(needed: 28))
        #expect(ProxyHeader.parse(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)) == .invalid("no PROXY v2 signature"))
        guard case .invalid(let v1) = ProxyHeader.parse(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8)) else { Issue.record("v1 accepted"); return }
        #expect(v1.contains("v1"))
        #expect(ProxyHeader.parse(Self.header(command: 0x11, body: Self.ipv4Body)) == .invalid("PROXY version 1"))
        #expect(ProxyHeader.parse(Self.header(command: 0x22, body: Self.ipv4Body)) == .invalid("PROXY command 2"))
        #expect(ProxyHeader.parse(Self.header(family: 0x12, body: Self.ipv4Body)) == .invalid("PROXY address family 18 (only TCP over IPv4 or IPv6)"))
        #expect(ProxyHeader.parse(Self.header(body: [1, 2, 3])) == .invalid("PROXY IPv4 address block of 3 bytes"))
        #expect(ProxyHeader.parse(ProxyHeader.signature + [0x21, 0x11, 0xFF, 0xFF]) == .invalid("PROXY header of 65551 bytes"))
    }

    @Test("a header of either version is recognised from its first bytes, an SSH banner is not")
    func recognised() {
        #expect(ProxyHeader.looksLikeHeader(Self.header(body: Self.ipv4Body)))
        #expect(ProxyHeader.looksLikeHeader(Array(ProxyHeader.signature.prefix(3))))
        #expect(ProxyHeader.looksLikeHeader(Array("PROXY TCP4 ".utf8)))
        #expect(!ProxyHeader.looksLikeHeader(Array("SSH-2.0-x\r\n".utf8)))
        #expect(!ProxyHeader.looksLikeHeader([]))
    }

    /// Seeded mutations of valid headers: the parser never traps, never claims more bytes
    /// than it was given, and answers the same twice.
    @Test("mutated headers never crash the parser")
    func mutations() {
        var generator = SeededGenerator(seed: 0x5EED_0001 ^ Mutator.runSeed)
        let seeds = [Self.header(body: Self.ipv4Body), Self.header(family: 0x21, body: [UInt8](repeating: 7, count: 36)), Self.header(command: 0x20, family: 0, body: [])]
        for round in 0..<Mutator.iterations(default: 20_000) {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
                default: bytes += (0..<Int.random(in: 0...8, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                }
            }
            let result = ProxyHeader.parse(bytes)
            if case .header(_, let length) = result { #expect(length <= bytes.count && length >= 16) }
            #expect(ProxyHeader.parse(bytes) == result)
        }
    }
}
