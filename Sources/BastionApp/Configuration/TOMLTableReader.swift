import BastionCore
import TOMLKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads typed values out of one TOML table, turning every problem into a `ConfigurationError`
/// that names the key's full path and its line.
struct TOMLTableReader {
    let table: TOMLTable
    /// The table's path from the document root (`["roles", "engineer"]`).
    let path: [String]
    let file: String
    let locator: TOMLKeyLocator

    /// An error about `key` of this table (or about the table itself when `key` is nil).
    func error(_ key: String?, _ reason: String) -> ConfigurationError {
        let keyPath = key.map { path + [$0] } ?? path
        return ConfigurationError(file: file, line: locator.line(of: keyPath), key: keyPath.joined(separator: "."), reason: reason)
    }

    /// Refuses any key not in `allowed`, reporting the one written first.
    ///
    /// Unknown keys are errors rather than warnings: a misspelt `max_failure` silently left at
    /// its default is a security setting nobody set.
    func refuseUnknownKeys(allowed: Set<String>, reason: String = "unknown key") throws(ConfigurationError) {
        let unknown = table.keys.filter { !allowed.contains($0) }
        let first = unknown.min { (locator.line(of: path + [$0]) ?? .max, $0) < (locator.line(of: path + [$1]) ?? .max, $1) }
        if let first { throw error(first, reason) }
    }

    func string(_ key: String, default value: String) throws(ConfigurationError) -> String {
        guard let node = table[key] else { return value }
        guard let string = node.string else { throw error(key, Self.expected("a string", node)) }
        return string
    }

    func nonEmptyString(_ key: String, default value: String) throws(ConfigurationError) -> String {
        let string = try string(key, default: value)
        guard !string.isEmpty else { throw error(key, "must not be empty") }
        return string
    }

    func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let node = table[key] else { return value }
        guard let int = node.int else { throw error(key, Self.expected("an integer", node)) }
        guard range.contains(int) else { throw error(key, "must be from \(range.lowerBound) to \(range.upperBound), got \(int)") }
        return int
    }

    func bool(_ key: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let node = table[key] else { return value }
        guard let bool = node.bool else { throw error(key, Self.expected("true or false", node)) }
        return bool
    }

    /// A duration string (`DurationText`) strictly above zero and at most `maximum`.
    func has(_ key: String) -> Bool { table[key] != nil }

    /// A retention period (`"7y"`); shorter than the seven-year floor is refused: evidence
    /// must outlive the policy that demands it, whatever a config file says.
    func retentionPeriod(_ key: String) throws(ConfigurationError) -> RetentionPeriod {
        guard let node = table[key] else { return .floor }
        guard let text = node.string else { throw error(key, Self.expected("a duration string like \"7y\"", node)) }
        let period: RetentionPeriod
        do {
            period = try RetentionPeriod(parsing: text)
        } catch {
            throw self.error(key, error.description)
        }
        guard !period.isBelowFloor else {
            throw error(key, "\"\(text)\" is shorter than the retention floor of \(RetentionPeriod.floor) (seven years); records cannot be kept for less")
        }
        return period
    }

    func duration(_ key: String, default value: TimeInterval, maximum: TimeInterval? = nil) throws(ConfigurationError) -> TimeInterval {
        guard let node = table[key] else { return value }
        guard let text = node.string else { throw error(key, Self.expected("a duration string like \"15m\"", node)) }
        let seconds: TimeInterval
        do {
            seconds = try DurationText.parse(text)
        } catch {
            throw self.error(key, error.description)
        }
        guard seconds > 0 else { throw error(key, "must be longer than 0s") }
        if let maximum, seconds > maximum {
            // Whole hours read better than days for the 24h ceiling.
            let limit = maximum.truncatingRemainder(dividingBy: 3_600) == 0 ? "\(Int(maximum / 3_600))h" : DurationText.format(maximum)
            throw error(key, "must be at most \(limit), got \(text)")
        }
        return seconds
    }

    func listenAddress(_ key: String, default value: ListenAddress, allowingPortZero: Bool = true) throws(ConfigurationError) -> ListenAddress {
        guard let node = table[key] else { return value }
        guard let text = node.string else { throw error(key, Self.expected("a string like \"127.0.0.1:2222\"", node)) }
        switch ListenAddress.parse(text, allowingPortZero: allowingPortZero) {
        case .success(let address): return address
        case .failure(let problem): throw error(key, problem.reason)
        }
    }

    /// An array of strings, each accepted by `isValid` (else `invalid` names the problem).
    func strings(
        _ key: String,
        default value: [String],
        isValid: (String) -> Bool = { _ in true },
        invalid: (String) -> String = { "invalid value \"\($0)\"" }
    ) throws(ConfigurationError) -> [String] {
        guard let node = table[key] else { return value }
        guard let array = node.array else { throw error(key, Self.expected("an array of strings", node)) }
        var result: [String] = []
        for (position, element) in array.enumerated() {
            guard let string = element.string else {
                throw error(key, "expected an array of strings, element \(position + 1) is \(Self.describe(element.type))")
            }
            guard isValid(string) else { throw error(key, invalid(string)) }
            if !result.contains(string) { result.append(string) }
        }
        return result
    }

    /// The sub-table `key`, or nil when absent.
    func table(_ key: String) throws(ConfigurationError) -> TOMLTableReader? {
        guard let node = table[key] else { return nil }
        guard let subtable = node.table else { throw error(key, Self.expected("a table", node)) }
        return TOMLTableReader(table: subtable, path: path + [key], file: file, locator: locator)
    }

    /// The tables of the array `key` (`[[key]]` headers), each read under the path `key[n]`.
    func arrayOfTables(_ key: String) throws(ConfigurationError) -> [TOMLTableReader] {
        guard let node = table[key] else { return [] }
        guard let array = node.array else { throw error(key, Self.expected("an array of tables ([[\((path + [key]).joined(separator: "."))]])", node)) }
        var readers: [TOMLTableReader] = []
        for (index, element) in array.enumerated() {
            let elementPath = path + ["\(key)[\(index)]"]
            guard let subtable = element.table else {
                throw ConfigurationError(
                    file: file, line: locator.line(of: path + [key]), key: elementPath.joined(separator: "."), reason: "expected a table"
                )
            }
            readers.append(TOMLTableReader(table: subtable, path: elementPath, file: file, locator: locator))
        }
        return readers
    }

    /// The table's keys in the order they are written (unlocatable ones last, by name), so the
    /// first problem reported is the first in the file.
    var keysInFileOrder: [String] {
        table.keys.sorted { (locator.line(of: path + [$0]) ?? .max, $0) < (locator.line(of: path + [$1]) ?? .max, $1) }
    }

    /// `expected X, found an integer`
    static func expected(_ what: String, _ node: any TOMLValueConvertible) -> String {
        "expected \(what), found \(describe(node.type))"
    }

    private static func describe(_ type: TOMLType) -> String {
        switch type {
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .string: "a string"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
