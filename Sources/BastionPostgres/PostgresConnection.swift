import BastionCore
import CLibPQ
import Foundation

/// One libpq connection to PostgreSQL, used by one thread at a time (the pool hands it out).
///
/// libpq, not postgres-nio: Bastion's stores are synchronous by design (DESIGN.md: domain
/// services are synchronous so libssh's connection threads and async HTTP share them), and
/// libpq's blocking calls fit that without hopping to an event loop and back for every
/// statement. Parameters and results travel in PostgreSQL's text format; statements always
/// go out with separate parameters (`PQexecParams`), never spliced into the SQL.
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    /// Connects with a libpq connection string or `postgres://` URL. The error names the
    /// server as given, with any password removed.
    init(url: String) throws {
        guard let connection = PQconnectdb(url) else { throw PostgresError.connection("libpq could not allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw PostgresError.connection(message)
        }
        handle = connection
        // Notices ("relation already exists, skipping") are not errors; libpq would print them.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit {
        PQfinish(handle)
    }

    /// False when the server closed the connection while it sat idle in the pool (a restart).
    /// An idle connection has nothing to read; one the server said goodbye to has its last
    /// message and the EOF waiting, which a zero-timeout `poll` sees without reading.
    var isAlive: Bool {
        guard PQstatus(handle) == CONNECTION_OK else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    /// False once the server went away or the connection broke: the pool drops it.
    var isUsable: Bool { PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// Runs one statement with `parameters` bound to `$1`, `$2`, …; returns its rows (empty
    /// for commands) and the number of rows it changed.
    @discardableResult
    func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws -> PostgresResult {
        let texts = parameters.map(\.postgresText)
        let result = withCStrings(texts) { values in
            PQexecParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw PostgresError.connection(lastError) }
        defer { PQclear(result) }
        try check(result)
        return PostgresResult(result)
    }

    /// Runs several statements without parameters (migrations); libpq's `PQexecParams` takes one.
    func execute(script: String) throws {
        guard let result = PQexec(handle, script) else { throw PostgresError.connection(lastError) }
        defer { PQclear(result) }
        try check(result)
    }

    private func check(_ result: OpaquePointer) throws {
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let message = (PQresultErrorMessage(result).map { String(cString: $0) } ?? lastError).trimmingCharacters(in: .whitespacesAndNewlines)
            if PQstatus(handle) != CONNECTION_OK { throw PostgresError.connection(message) }
            throw PostgresError.server(state: state, message: message)
        }
    }

    private var lastError: String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The rows of one result, copied out of libpq's result (text format).
struct PostgresResult {
    let columns: [String: Int]
    let rows: [[String?]]
    /// Rows inserted, updated or deleted by a command.
    let changedRows: Int

    fileprivate init(_ result: OpaquePointer) {
        let fieldCount = Int(PQnfields(result))
        var columns: [String: Int] = [:]
        for index in 0..<fieldCount { columns[String(cString: PQfname(result, Int32(index)))] = index }
        self.columns = columns
        rows = (0..<Int(PQntuples(result))).map { row in
            (0..<fieldCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
        }
        changedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    var first: PostgresRow? { rows.first.map { PostgresRow(columns: columns, values: $0) } }
    var all: [PostgresRow] { rows.map { PostgresRow(columns: columns, values: $0) } }
}

/// One row; typed reads decode PostgreSQL's text format and throw on a value they cannot read.
struct PostgresRow {
    let columns: [String: Int]
    let values: [String?]

    func optionalText(_ name: String) throws -> String? {
        guard let index = columns[name] else { throw PostgresError.decoding("no column \(name)") }
        return values[index]
    }

    func text(_ name: String) throws -> String {
        guard let value = try optionalText(name) else { throw PostgresError.decoding("\(name) is NULL") }
        return value
    }

    func optionalInt64(_ name: String) throws -> Int64? {
        try optionalText(name).map { text in
            guard let value = Int64(text) else { throw PostgresError.decoding("\(name): not an integer") }
            return value
        }
    }

    func int64(_ name: String) throws -> Int64 {
        guard let value = try optionalInt64(name) else { throw PostgresError.decoding("\(name) is NULL") }
        return value
    }

    func int(_ name: String) throws -> Int { Int(try int64(name)) }

    func optionalDouble(_ name: String) throws -> Double? {
        try optionalText(name).map { text in
            guard let value = Double(text) else { throw PostgresError.decoding("\(name): not a number") }
            return value
        }
    }

    func double(_ name: String) throws -> Double {
        guard let value = try optionalDouble(name) else { throw PostgresError.decoding("\(name) is NULL") }
        return value
    }

    func date(_ name: String) throws -> Date { Date(timeIntervalSince1970: try double(name)) }
    func optionalDate(_ name: String) throws -> Date? { try optionalDouble(name).map(Date.init(timeIntervalSince1970:)) }

    func bool(_ name: String) throws -> Bool { try text(name) == "t" }

    /// `bytea` in the hex output format (`\x0a1b…`, PostgreSQL's default since 9.0).
    func bytes(_ name: String) throws -> [UInt8] {
        let text = try text(name)
        guard text.hasPrefix("\\x"), let bytes = AuditChain.bytes(hex: text.dropFirst(2)) else {
            throw PostgresError.decoding("\(name): not hex bytea")
        }
        return bytes
    }
}

/// Calls `body` with a C array of the strings (NULL for nil), alive for the call.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { buffer in
        body(buffer.map { $0.map { UnsafePointer($0) } })
    }
}
