import Foundation

/// A seeded mutation fuzzer for parsers: starts from valid inputs and breaks them the ways
/// hostile peers and corrupt files do (flipped bits, cut and spliced data, length fields set
/// to 0 or 2³²−1, bytes inserted and repeated). A parser passes when no input traps (an
/// out-of-range index or an overflow ends the test process) and the same input gets the same
/// answer twice.
///
/// `make test` runs a few thousand inputs per parser; `make fuzz` sets
/// `BASTION_FUZZ_ITERATIONS` and runs millions, with `BASTION_FUZZ_SEED` for new inputs. A
/// failure names its seed and round.
public struct Mutator {
    private var generator: SeededGenerator
    private let seeds: [[UInt8]]

    public init(seeds: [[UInt8]], seed: UInt64) {
        precondition(!seeds.isEmpty)
        self.seeds = seeds
        generator = SeededGenerator(seed: seed ^ Self.runSeed)
    }

    /// `BASTION_FUZZ_SEED` varies every parser's inputs between runs of `make fuzz` (0 in
    /// `make test`, so that its inputs are always the same).
    public static var runSeed: UInt64 {
        ProcessInfo.processInfo.environment["BASTION_FUZZ_SEED"].flatMap(UInt64.init) ?? 0
    }

    /// How many inputs each parser gets: `BASTION_FUZZ_ITERATIONS`, else `fallback`.
    public static func iterations(default fallback: Int = 3_000) -> Int {
        ProcessInfo.processInfo.environment["BASTION_FUZZ_ITERATIONS"].flatMap(Int.init) ?? fallback
    }

    /// The next input: a seed with one to eight mutations.
    public mutating func next() -> [UInt8] {
        var bytes = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
        for _ in 0..<Int.random(in: 1...8, using: &generator) { mutate(&bytes) }
        // A trap ends the process: BASTION_FUZZ_LAST keeps the input that did it.
        if let path = Self.lastInputPath { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }
        return bytes
    }

    private static let lastInputPath = ProcessInfo.processInfo.environment["BASTION_FUZZ_LAST"]

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<9, using: &generator) {
        case 0 where !bytes.isEmpty:
            bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
        case 1 where !bytes.isEmpty:
            bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 2:
            bytes = Array(bytes.prefix(position))
        case 3:
            let count = Int.random(in: 1...16, using: &generator)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: position)
        case 4 where bytes.count >= position + 4:
            // A length field: empty, huge, or just past the end.
            let value: UInt32 = [0, .max, 0x7FFF_FFFF, UInt32(bytes.count - position)].randomElement(using: &generator)!
            withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(position..<position + 4, with: $0) }
        case 5 where !bytes.isEmpty:
            let end = min(bytes.count, position + Int.random(in: 1...64, using: &generator))
            bytes.insert(contentsOf: bytes[position..<end], at: end)
        case 6:
            let other = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
            let cut = other.isEmpty ? 0 : Int.random(in: 0..<other.count, using: &generator)
            bytes = Array(bytes.prefix(position)) + other[cut...]
        case 7 where !bytes.isEmpty:
            let end = min(bytes.count, position + Int.random(in: 1...32, using: &generator))
            bytes.removeSubrange(position..<end)
        default:
            let interesting: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0x0A, 0x0D, 0x22, 0x5C, 0x7B, 0x5B, 0x3A, 0x40, 0xC0, 0xE2]
            bytes.insert(interesting.randomElement(using: &generator)!, at: position)
        }
    }
}
