import BastionApp
import BastionCore
import BastionStore
import Foundation

/// Auditors' search at scale (issue 7): 10,000 ended sessions, each with a real asciicast
/// file of shell-like output (colour codes included), indexed by the same `SessionIndexer` the
/// daemon runs (audit records → recordings → FTS5), then word queries timed one by one.
/// Goal: p99 < 50 ms for a word query.
enum SearchBenchmark {
    struct Result {
        var sessions: Int
        var recordingBytes: Int
        var indexSeconds: Double
        var wordLatencies: [Double]
        var filteredLatencies: [Double]
        var missLatencies: [Double]
        var databaseBytes: Int
        var sessionsPerSecond: Double { Double(sessions) / indexSeconds }
    }

    static func run(sessions: Int, scratch: ScratchDirectory) throws -> Result {
        let path = scratch.file("search-bench.sqlite")
        let handle = try DatabasePoolHandle(path: path)
        let directory = scratch.file("search-recordings")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let vocabulary = (0..<5_000).map { "w\($0)x" + String($0 * 7_919 % 10_007, radix: 36) }
        var bytes = 0
        // The words each user printed: the word queries ask for printed ones, and must find them.
        var printedBy = [Set<Int>](repeating: [], count: 200)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<sessions {
            let id = String(format: "%016x", index)
            let file = directory + "/\(id).cast"
            var text = "{\"version\":2,\"width\":120,\"height\":40,\"timestamp\":\(1_800_000_000 + index * 60)}\n"
            for line in 0..<40 {
                // A Zipf-like mix: common words often, rare ones seldom.
                let picks = (0..<8).map { _ in Int(pow(Double.random(in: 0..<1, using: &generator), 3) * Double(vocabulary.count)) }
                printedBy[index % 200].formUnion(picks)
                let words = picks.map { vocabulary[$0] }
                text += "[\(Double(line) * 0.25),\"o\",\"\\u001b[1;32mroot@web\(index % 50)\\u001b[0m:~# \(words.joined(separator: " "))\\r\\n\"]\n"
            }
            try text.write(toFile: file, atomically: false, encoding: .utf8)
            bytes += text.utf8.count
            try handle.auditLog.append(AuditEvent(
                type: .sessionEnd, time: start.addingTimeInterval(Double(index) * 60 + 30), actor: .init(user: "user\(index % 200)", method: "certificate"),
                connection: .init(id: ConnectionID(rawValue: "c\(index)"), remoteAddress: "10.0.\(index % 250).1", remotePort: 40_000), session: .init(id: SessionID(rawValue: id), login: "root"),
                target: "web\(index % 50)",
                details: [
                    "session_id": id, "login": "root", "end_reason": "closed", "duration": "30.000", "exit_status": "0", "recording": file,
                    "recording_size": String(text.utf8.count), "recording_sha256": String(repeating: "0", count: 64),
                ]
            ))
        }
        let indexer = SessionIndexer(auditLog: handle.auditLog, catalog: handle.sessionCatalog)
        let indexStart = Date()
        var indexed = 0
        while true {
            let added = try indexer.catchUp()
            if added == 0 { break }
            indexed += added
        }
        let indexSeconds = Date().timeIntervalSince(indexStart)
        let catalogued = try handle.sessionCatalog.search(SessionQuery(limit: sessions + 1)).count
        guard indexed == sessions, catalogued == sessions else {
            throw BenchError("search: \(indexed) sessions indexed and \(catalogued) in the catalog, of \(sessions)")
        }

        /// Milliseconds of one search; throws unless it found sessions exactly when it should.
        func time(_ query: SessionQuery, hits: Bool) throws -> Double {
            let begin = DispatchTime.now().uptimeNanoseconds
            let found = try handle.sessionCatalog.search(query)
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e6
            guard found.isEmpty != hits else {
                let asked = (query.user.map { "user \($0), " } ?? "") + "word \(query.grep ?? "")"
                throw BenchError("search: \(asked) found \(found.count) sessions, expected \(hits ? "some" : "none")")
            }
            return milliseconds
        }
        let printed = Array(printedBy.reduce(into: Set<Int>()) { $0.formUnion($1) })
        let printedByUser = printedBy.map(Array.init)
        var words: [Double] = []
        var filtered: [Double] = []
        var misses: [Double] = []
        for round in 0..<300 {
            let word = vocabulary[printed[Int.random(in: 0..<printed.count, using: &generator)]]
            words.append(try time(SessionQuery(grep: word), hits: true))
            let user = printedByUser[round % 200]
            let usersWord = vocabulary[user[Int.random(in: 0..<user.count, using: &generator)]]
            filtered.append(try time(SessionQuery(user: "user\(round % 200)", grep: usersWord), hits: true))
            misses.append(try time(SessionQuery(grep: "absent\(round)word"), hits: false))
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            + ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0)
        return Result(
            sessions: sessions, recordingBytes: bytes, indexSeconds: indexSeconds, wordLatencies: words.sorted(),
            filteredLatencies: filtered.sorted(), missLatencies: misses.sorted(), databaseBytes: size
        )
    }

    static func render(_ result: Result) -> String {
        func percentile(_ values: [Double], _ p: Double) -> Double { values[min(values.count - 1, Int(Double(values.count) * p))] }
        func line(_ values: [Double]) -> String {
            String(format: "p50 %.2f ms   p99 %.2f ms   max %.2f ms", percentile(values, 0.5), percentile(values, 0.99), values.last ?? 0)
        }
        let goal = percentile(result.wordLatencies, 0.99) < 50 ? "met" : "MISSED"
        return """
            session search (\(result.sessions) indexed sessions, \(result.recordingBytes / 1_048_576) MiB of recordings, SQLite FTS5)
              index build                     \(String(format: "%.0f", result.sessionsPerSecond)) sessions/s   (\(String(format: "%.1f", result.indexSeconds)) s; database \(result.databaseBytes / 1_048_576) MiB)
              word query (300 printed words)  \(line(result.wordLatencies))   goal p99 < 50 ms: \(goal)
              word + user filter (a hit)      \(line(result.filteredLatencies))
              word printed nowhere            \(line(result.missLatencies))
            """
    }
}
