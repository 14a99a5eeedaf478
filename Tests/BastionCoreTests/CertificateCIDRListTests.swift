import BastionCore
import Testing

@Suite("CIDRList (source-address syntax)")
struct CertificateCIDRListTests {
    @Test("matches IPv4 and IPv6 blocks and single addresses")
    func matching() throws {
        let list = try CIDRList("10.0.0.0/8,192.168.1.5,::1/128,2001:db8::/32,0.0.0.0/0")
        #expect(list.blocks.count == 5)
        let narrow = try CIDRList("10.0.0.0/8,192.168.1.5,::1/128,2001:db8:1::/48")
        #expect(narrow.contains(address: "10.255.255.255"))
        #expect(narrow.contains(address: "192.168.1.5"))
        #expect(!narrow.contains(address: "192.168.1.6"))
        #expect(narrow.contains(address: "::1"))
        #expect(narrow.contains(address: "2001:db8:1:ffff::1"))
        #expect(!narrow.contains(address: "2001:db8:2::1"))
        #expect(narrow.contains(address: "::ffff:10.0.0.1"))
        #expect(narrow.contains(address: "fe80::1%eth0") == false)
        #expect(!narrow.contains(address: "11.0.0.0"))
        #expect(try CIDRList("172.16.0.0/12").contains(address: "172.31.255.1"))
        #expect(try !CIDRList("172.16.0.0/12").contains(address: "172.32.0.1"))
        #expect(list.contains(address: "8.8.8.8"))
        // A single IPv4-mapped address (what a dual-stack listener reports, and so what
        // a certificate bound to the client's address may carry) matches either spelling.
        let mapped = try CIDRList("::ffff:10.1.2.3")
        #expect(mapped.contains(address: "::ffff:10.1.2.3"))
        #expect(mapped.contains(address: "10.1.2.3"))
        #expect(!mapped.contains(address: "10.1.2.4"))
        #expect(try CIDRList("::ffff:10.0.0.0/104").contains(address: "10.9.9.9"))
        #expect(list.description == "10.0.0.0/8,192.168.1.5,::1/128,2001:db8::/32,0.0.0.0/0")
    }

    @Test("malformed lists are refused", arguments: [
        "", ",", "10.0.0.0/8,", "10.0.0.0/8, 192.168.0.0/16", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1",
        "10.0.0.0/+8", "10.0.0", "010.0.0.0/8", "::1/129", "host.example", "10.0.0.0/8/8", "1.2.3.4 ",
    ])
    func malformed(text: String) {
        #expect(throws: FormatError.self) { try CIDRList(text) }
    }
}
