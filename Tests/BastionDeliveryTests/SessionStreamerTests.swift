@testable import BastionDelivery
import Testing

@Suite("Session streamer cuts")
struct SessionStreamerTests {
    @Test("a live recording goes up to its last newline; a long line or a closed file never splits a character")
    func cuts() {
        let lines = Array("[1, \"o\", \"a\"]\n[2, \"o\", \"b".utf8)
        #expect(SessionStreamer.cut(lines, wholeLinesOnly: true) == Array("[1, \"o\", \"a\"]\n".utf8))
        #expect(SessionStreamer.cut(Array("partial".utf8), wholeLinesOnly: true) == nil)
        #expect(SessionStreamer.cut(Array("tail".utf8), wholeLinesOnly: false) == Array("tail".utf8))
        // A full chunk without a newline ending inside "✓" (E2 9C 93): the character waits.
        let full = Array(repeating: UInt8(ascii: "x"), count: SessionStreamer.chunkBytes - 2) + [0xE2, 0x9C]
        #expect(SessionStreamer.cut(full, wholeLinesOnly: true)?.count == SessionStreamer.chunkBytes - 2)
        #expect(SessionStreamer.characterBoundary(Array("ab✓".utf8)) == 5)
        #expect(SessionStreamer.characterBoundary([0x61, 0xF0, 0x9F, 0x94]) == 1)
        #expect(SessionStreamer.characterBoundary([0x61, 0xC3]) == 1)
    }
}
