import BastionCrypto
import BastionCore
import Testing

@Suite("Sealed recording format")
struct SealedRecordingTests {
    let key = SealedFixture.key

    // MARK: Round trips

    @Test(arguments: [0, 1, 15, 16, 17, 64 << 10, 1 << 20, (1 << 20) + 1, (5 << 19) + 3])
    func roundTrip(size: Int) throws {
        let plaintext = (0 ..< size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let writer = try SealedRecordingWriter(dataKey: key, wrappedKey: [1, 2, 3], masterKeyVersion: 9)
        let body = try writer.seal(plaintext)
        let expectedChunks = (size + SealedRecording.maximumChunkPlaintextByteCount - 1) / SealedRecording.maximumChunkPlaintextByteCount
        #expect(writer.chunkCount == UInt64(expectedChunks))
        #expect(body.count == size + expectedChunks * 28)
        let file = writer.header.encoded + body + (try writer.finish())
        let contents = try SealedRecording.open(file, dataKey: key)
        #expect(contents.status == .complete)
        // A Bool, not `==` inside #expect: a failing comparison of megabyte arrays would
        // make the test library compute their difference for minutes.
        let samePlaintext = contents.plaintext == plaintext
        #expect(samePlaintext)
        #expect(contents.chunkCount == UInt64(expectedChunks + 1))
        #expect(contents.verifiedByteCount == file.count)
        #expect(contents.header.masterKeyVersion == 9)
        #expect(contents.header.wrappedKey == [1, 2, 3])
        #expect(writer.plaintextSHA256 == SHA256.hash(plaintext))
    }

    @Test func finalChunkMayCarryData() throws {
        let fixture = try SealedFixture.threeChunks()
        let contents = try SealedRecording.open(fixture.file, dataKey: key)
        #expect(contents.status == .complete)
        #expect(contents.plaintext == fixture.plaintexts.flatMap { $0 })
        #expect(fixture.plaintextSHA256 == SHA256.hash(fixture.plaintexts.flatMap { $0 }))
    }

    /// A live reader fed the file in awkward pieces yields the same chunks, each as soon
    /// as it is whole, with offsets and the final flag.
    @Test func streamingReaderFollowsAGrowingFile() throws {
        let fixture = try SealedFixture.threeChunks()
        let reader = SealedRecordingReader(dataKey: key)
        var chunks: [SealedRecordingChunk] = []
        var position = 0
        for step in [1, 5, 3, 40, 2, 7, 100, 1, 64, 1000] where position < fixture.file.count {
            let end = min(position + step, fixture.file.count)
            reader.append(Array(fixture.file[position ..< end]))
            position = end
            while let chunk = try reader.next() {
                #expect(chunk.fileOffsetAfter <= position)
                chunks.append(chunk)
            }
            #expect(chunks.count == fixture.chunkEnds.filter { $0 <= position }.count)
        }
        #expect(chunks.map(\.plaintext) == fixture.plaintexts)
        #expect(chunks.map(\.fileOffsetAfter) == fixture.chunkEnds)
        #expect(chunks.map(\.isFinal) == [false, false, true])
        #expect(chunks.map(\.plaintextOffset) == [0, UInt64(fixture.plaintexts[0].count), UInt64(fixture.plaintexts[0].count + fixture.plaintexts[1].count)])
        #expect(reader.isComplete)
        #expect(try reader.next() == nil)
    }

    /// Golden vector: the three-chunk fixture (key 32×0x42, file ID 16×0x07, master-key
    /// version 3, wrapped key "wrapped-by-kms") byte for byte, as produced by an independent
    /// implementation of the layout in `SealedRecording`'s doc comment (Python `cryptography`
    /// AESGCM plus RFC 5869 HKDF). Pins nonce, AAD, key derivation and framing.
    @Test func goldenFile() throws {
        let fixture = try SealedFixture.threeChunks()
        #expect(fixture.file.count == 223)
        let digest = SHA256.hash(fixture.file).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(digest == "59a3ec746fb13efec4bc61d66dc843efdb92aa1314c6e64c6fd9cd117f1d2359")
    }

    // MARK: Truncation

    /// Every cut yields exactly the whole chunks before it, or, inside the header, a
    /// header error; never a partial or unverified chunk.
    @Test func cutAtEveryOffset() throws {
        let fixture = try SealedFixture.threeChunks()
        for cut in 0 ... fixture.file.count {
            let prefix = Array(fixture.file.prefix(cut))
            if cut < fixture.headerByteCount {
                #expect(throws: SealedRecordingError(.truncatedHeader, "")) { try SealedRecording.open(prefix, dataKey: key) }
                continue
            }
            let contents = try SealedRecording.open(prefix, dataKey: key)
            let whole = fixture.chunkEnds.filter { $0 <= cut }.count
            #expect(contents.plaintext == fixture.plaintexts.prefix(whole).flatMap { $0 }, "cut at \(cut)")
            #expect(contents.verifiedByteCount == (whole == 0 ? fixture.headerByteCount : fixture.chunkEnds[whole - 1]))
            #expect(contents.status == (cut == fixture.file.count ? .complete : .truncated), "cut at \(cut)")

            let reader = SealedRecordingReader(dataKey: key)
            reader.append(prefix)
            var streamed: [[UInt8]] = []
            while let chunk = try reader.next() { streamed.append(chunk.plaintext) }
            #expect(streamed == Array(fixture.plaintexts.prefix(whole)), "cut at \(cut)")
        }
    }

    /// Dropping the final chunk leaves a valid prefix that must not pass as complete.
    @Test func droppingTheFinalChunkIsTruncation() throws {
        let fixture = try SealedFixture.threeChunks()
        let contents = try SealedRecording.open(Array(fixture.file.prefix(fixture.chunkEnds[1])), dataKey: key)
        #expect(contents.status == .truncated)
        #expect(contents.chunkCount == 2)
    }

    // MARK: Tampering

    @Test(arguments: [false, true])
    func swappedChunksAreCorrupt(fixOffsets: Bool) throws {
        // Equal-length chunks, so only the counter nonce (or the offset) tells them apart.
        let fixture = try SealedFixture(lines: ["aaaa\n", "bbbb\n", "cccc\n"])
        var file = fixture.file
        let first = fixture.chunkRange(0), second = fixture.chunkRange(1)
        file.replaceSubrange(first.lowerBound ..< second.upperBound, with: Array(fixture.file[second]) + Array(fixture.file[first]))
        if fixOffsets {
            setOffsetField(&file, chunkStart: first.lowerBound, to: 0)
            setOffsetField(&file, chunkStart: first.lowerBound + second.count, to: 5)
        }
        let contents = try SealedRecording.open(file, dataKey: key)
        #expect(contents.status == .corrupt(atFileOffset: first.lowerBound))
        #expect(contents.plaintext.isEmpty)
    }

    @Test(arguments: [false, true])
    func droppedMiddleChunkIsCorrupt(fixOffsets: Bool) throws {
        let fixture = try SealedFixture.threeChunks()
        var file = fixture.file
        let middle = fixture.chunkRange(1)
        file.removeSubrange(middle)
        if fixOffsets { setOffsetField(&file, chunkStart: middle.lowerBound, to: UInt64(fixture.plaintexts[0].count)) }
        let contents = try SealedRecording.open(file, dataKey: key)
        #expect(contents.status == .corrupt(atFileOffset: middle.lowerBound))
        #expect(contents.plaintext == fixture.plaintexts[0])
    }

    /// Every single-bit flip after the header is caught. A flip that makes a length field
    /// point past the end of the file (but within the maximum) is indistinguishable from a
    /// cut mid-chunk, so it reads as `.truncated`; every other flip is `.corrupt` at the
    /// chunk it hit. Either
    /// way only the chunks before the flip come back.
    @Test func everyBitFlipInAChunkIsCaught() throws {
        let fixture = try SealedFixture.threeChunks()
        for byte in fixture.headerByteCount ..< fixture.file.count {
            let chunk = fixture.chunkEnds.firstIndex { byte < $0 } ?? 0
            let chunkStart = fixture.chunkRange(chunk).lowerBound
            for bit in 0 ..< 8 {
                var file = fixture.file
                file[byte] ^= 1 << bit
                let contents = try SealedRecording.open(file, dataKey: key)
                #expect(contents.plaintext == fixture.plaintexts.prefix(chunk).flatMap { $0 }, "byte \(byte) bit \(bit)")
                let length = file[chunkStart ..< chunkStart + 4].reduce(0) { $0 << 8 | Int($1) }
                let grewPastEnd = length <= SealedRecording.maximumChunkCiphertextByteCount && chunkStart + 12 + length > file.count
                let expected: SealedRecordingContents.Status = grewPastEnd ? .truncated : .corrupt(atFileOffset: chunkStart)
                #expect(contents.status == expected, "byte \(byte) bit \(bit)")
            }
        }
    }

    /// A flipped header bit either breaks the header or every chunk (its hash is in the AAD).
    @Test func everyBitFlipInTheHeaderIsCaught() throws {
        let fixture = try SealedFixture.threeChunks()
        for byte in 0 ..< fixture.headerByteCount {
            for bit in 0 ..< 8 {
                var file = fixture.file
                file[byte] ^= 1 << bit
                do {
                    let contents = try SealedRecording.open(file, dataKey: key)
                    #expect(contents.status == .corrupt(atFileOffset: fixture.headerByteCount), "byte \(byte) bit \(bit)")
                    #expect(contents.plaintext.isEmpty)
                } catch {
                    #expect([.malformedHeader, .unsupportedVersion, .truncatedHeader].contains(error.code), "byte \(byte) bit \(bit)")
                }
            }
        }
    }

    @Test(arguments: [[0], [0, 0, 0, 16], Array(repeating: UInt8(0xAB), count: 100)])
    func bytesAfterTheFinalChunkAreCorrupt(extra: [UInt8]) throws {
        let fixture = try SealedFixture.threeChunks()
        let contents = try SealedRecording.open(fixture.file + extra, dataKey: key)
        #expect(contents.status == .corrupt(atFileOffset: fixture.file.count))
        #expect(contents.plaintext == fixture.plaintexts.flatMap { $0 })
    }

    @Test func finalChunkAppendedAgainIsCorrupt() throws {
        let fixture = try SealedFixture.threeChunks()
        let contents = try SealedRecording.open(fixture.file + Array(fixture.file[fixture.chunkRange(2)]), dataKey: key)
        #expect(contents.status == .corrupt(atFileOffset: fixture.file.count))
    }

    /// Same data key, same chunk sizes, different header: by file ID (different derived key
    /// and header hash) or only by master-key version (same derived key; the header hash in
    /// the AAD alone must catch it).
    @Test(arguments: [(UInt8(8), UInt32(3)), (UInt8(7), UInt32(4))])
    func chunkFromAnotherFileIsCorrupt(otherFileID: UInt8, otherMasterKeyVersion: UInt32) throws {
        let mine = try SealedFixture.threeChunks()
        let other = try SealedFixture.threeChunks(fileID: otherFileID, masterKeyVersion: otherMasterKeyVersion)
        var file = mine.file
        file.replaceSubrange(mine.chunkRange(1), with: other.file[other.chunkRange(1)])
        let contents = try SealedRecording.open(file, dataKey: key)
        #expect(contents.status == .corrupt(atFileOffset: mine.chunkRange(1).lowerBound))
        #expect(contents.plaintext == mine.plaintexts[0])

        // And the other file's header on my chunks.
        let swapped = Array(other.file.prefix(other.headerByteCount)) + mine.file[mine.headerByteCount...]
        #expect(try SealedRecording.open(swapped, dataKey: key).status == .corrupt(atFileOffset: mine.headerByteCount))
    }

    @Test func wrongKeyIsCorruptAtTheFirstChunk() throws {
        let fixture = try SealedFixture.threeChunks()
        let contents = try SealedRecording.open(fixture.file, dataKey: fixedKey(0x43))
        #expect(contents.status == .corrupt(atFileOffset: fixture.headerByteCount))
        #expect(contents.plaintext.isEmpty)
        #expect(contents.verifiedByteCount == fixture.headerByteCount)
    }

    /// A forged length is refused from the 12 framing bytes alone: the reader neither waits
    /// for 4 GiB nor allocates for it. Too short for a tag is refused likewise.
    @Test(arguments: [UInt32.max, UInt32(SealedRecording.maximumChunkCiphertextByteCount + 1), 15, 0])
    func outOfRangeLengthIsCorrupt(length: UInt32) throws {
        let fixture = try SealedFixture.threeChunks()
        let start = fixture.headerByteCount
        var frame = Array(fixture.file[start ..< start + 12])
        for index in 0 ..< 4 { frame[index] = UInt8(truncatingIfNeeded: length >> UInt32(24 - 8 * index)) }
        let reader = SealedRecordingReader(dataKey: key)
        reader.append(Array(fixture.file.prefix(start)) + frame)
        #expect(throws: SealedRecordingError(.corrupt, "")) { try reader.next() }
        // Sticky: the reader never resumes after a failure.
        reader.append(Array(fixture.file[(start + 12)...]))
        #expect(throws: SealedRecordingError(.corrupt, "")) { try reader.next() }
        let contents = try SealedRecording.open(Array(fixture.file.prefix(start)) + frame, dataKey: key)
        #expect(contents.status == .corrupt(atFileOffset: start))
    }

    // MARK: Header and detection

    @Test func headerParsesOnlyWhenWhole() throws {
        let header = try SealedRecordingHeader(masterKeyVersion: 0xDEADBEEF, wrappedKey: [UInt8](repeating: 5, count: 1024), fileID: [UInt8](repeating: 1, count: 16))
        for cut in 0 ..< header.byteCount {
            #expect(try SealedRecordingHeader.parse(Array(header.encoded.prefix(cut))) == nil)
        }
        let parsed = try #require(try SealedRecordingHeader.parse(header.encoded + [9, 9]))
        #expect(parsed == header)
        #expect(parsed.byteCount == header.encoded.count)
        #expect(parsed.masterKeyVersion == 0xDEADBEEF)
        #expect(parsed.sha256 == SHA256.hash(header.encoded))
    }

    @Test func headerRejectsBadFields() throws {
        let invalid = SealedRecordingError(.invalidUse, "")
        #expect(throws: invalid) { try SealedRecordingHeader(masterKeyVersion: 1, wrappedKey: [], fileID: [UInt8](repeating: 1, count: 16)) }
        #expect(throws: invalid) { try SealedRecordingHeader(masterKeyVersion: 1, wrappedKey: [UInt8](repeating: 1, count: 1025), fileID: [UInt8](repeating: 1, count: 16)) }
        #expect(throws: invalid) { try SealedRecordingHeader(masterKeyVersion: 1, wrappedKey: [1], fileID: [1]) }

        let malformed = SealedRecordingError(.malformedHeader, "")
        #expect(throws: malformed) { try SealedRecordingHeader.parse(Array("{\"version\": 2}\n".utf8)) }
        let good = try SealedRecordingHeader(masterKeyVersion: 1, wrappedKey: [1, 2], fileID: [UInt8](repeating: 1, count: 16)).encoded
        // A body length beyond the cap: refused before waiting for the bytes.
        #expect(throws: malformed) { try SealedRecordingHeader.parse(Array(good.prefix(8)) + [0, 1, 0, 1]) }
        #expect(try SealedRecordingHeader.parse(Array(good.prefix(8)) + [0, 1, 0, 0]) == nil)
        // One extra byte inside the body: not canonical.
        var longer = good
        longer[11] += 1
        longer.append(0)
        #expect(throws: malformed) { try SealedRecordingHeader.parse(longer) }
        var version2 = good
        version2[13] = 2
        #expect(throws: SealedRecordingError(.unsupportedVersion, "")) { try SealedRecordingHeader.parse(version2) }
    }

    @Test func isSealedTellsSealedFromPlaintext() throws {
        let fixture = try SealedFixture.threeChunks()
        #expect(SealedRecording.isSealed(prefix: Array(fixture.file.prefix(8))))
        #expect(SealedRecording.isSealed(prefix: fixture.file))
        #expect(!SealedRecording.isSealed(prefix: Array(fixture.file.prefix(7))))
        #expect(!SealedRecording.isSealed(prefix: Array("{\"version\": 2, \"width\": 80}".utf8)))
        #expect(!SealedRecording.isSealed(prefix: []))
    }

    // MARK: Recovery

    /// A crash mid-chunk: recovery truncates to the verified prefix, resumes the writer and
    /// appends a marker as the final chunk; the result is complete and its hash covers it all.
    @Test func resumeAfterRecoveryCompletes() throws {
        let fixture = try SealedFixture.threeChunks()
        let crashed = Array(fixture.file.prefix(fixture.chunkEnds[1] + 20))
        let recovered = try SealedRecording.open(crashed, dataKey: key)
        #expect(recovered.status == .truncated)
        #expect(try SealedRecording.validPrefixLength(of: crashed, dataKey: key) == fixture.chunkEnds[1])

        let writer = try SealedRecordingWriter(resuming: recovered, dataKey: key)
        let marker = Array("[0.9, \"m\", \"interrupted\"]\n".utf8)
        let repaired = Array(crashed.prefix(recovered.verifiedByteCount)) + (try writer.finish(marker))
        let contents = try SealedRecording.open(repaired, dataKey: key)
        #expect(contents.status == .complete)
        let expected = fixture.plaintexts[0] + fixture.plaintexts[1] + marker
        #expect(contents.plaintext == expected)
        #expect(writer.plaintextSHA256 == SHA256.hash(expected))

        #expect(throws: SealedRecordingError(.invalidUse, "")) { try SealedRecordingWriter(resuming: contents, dataKey: key) }
    }

    @Test func writerRefusesUseAfterFinish() throws {
        let writer = try SealedRecordingWriter(dataKey: key, wrappedKey: [1], masterKeyVersion: 1)
        #expect(try writer.seal([]).isEmpty)  // no empty chunks before the final one
        #expect(writer.plaintextSHA256 == nil)
        _ = try writer.finish()
        #expect(writer.plaintextSHA256 == SHA256.hash([]))
        #expect(throws: SealedRecordingError(.invalidUse, "")) { try writer.seal([1]) }
        #expect(throws: SealedRecordingError(.invalidUse, "")) { try writer.finish() }
    }
}
