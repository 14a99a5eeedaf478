import BastionApp
import Testing

@Suite("ListenAddress")
struct ConfigurationListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:2222", "127.0.0.1", 2222), ("[::1]:2222", "::1", 2222), ("0.0.0.0:22", "0.0.0.0", 22),
        ("127.0.0.1:0", "127.0.0.1", 0), ("localhost:8080", "localhost", 8080), ("[fe80::1:2]:65535", "fe80::1:2", 65535),
        ("[::ffff:10.0.0.1]:22", "::ffff:10.0.0.1", 22), ("[2001:db8:0:0:0:0:0:1]:22", "2001:db8:0:0:0:0:0:1", 22),
    ])
    func parses(text: String, host: String, port: Int) {
        let address = ListenAddress(text)
        #expect(address == ListenAddress(host: host, port: port))
        #expect(address?.description == text)
    }

    @Test(arguments: [
        "", "2222", "127.0.0.1", "127.0.0.1:", ":2222", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:22a", "::1:22",
        "[::1]", "[::1]22", "[1::2::3]:22", "[1:2:3:4:5:6:7:8:9]:22", "[xyz]:22", "256.1.1.1:22", "1.2.3:22", "bad_host:22",
        "-web:22", "127.0.0.1:000022",
    ])
    func refuses(text: String) {
        #expect(ListenAddress(text) == nil)
    }
}
