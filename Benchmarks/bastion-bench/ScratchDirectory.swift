import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private (0700) temporary directory for one run: keys, configs, data dirs, logs.
/// Removed by `remove()`, which the caller defers, so a failed run leaves nothing behind.
struct ScratchDirectory {
    let path: String

    init() throws(BenchError) {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("bastion-bench.XXXXXX").utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: created)
    }

    /// `path/name`.
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `contents` to `path/name` with `mode`; returns the path.
    @discardableResult
    func write(_ name: String, _ contents: String, mode: Int = 0o600) throws(BenchError) -> String {
        let target = file(name)
        do {
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true
            )
            try contents.write(toFile: target, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
        } catch {
            throw BenchError("cannot write \(target): \(error)")
        }
        return target
    }

    func read(_ name: String) throws(BenchError) -> String {
        do { return try String(contentsOfFile: file(name), encoding: .utf8) } catch {
            throw BenchError("cannot read \(file(name)): \(error)")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
