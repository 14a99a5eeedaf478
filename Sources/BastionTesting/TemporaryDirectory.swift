import Foundation

/// A fresh directory under the system temp dir, removed when the test is done with it.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "bastion-test") throws {
        let template = NSTemporaryDirectory() + "/\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let result = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: result)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
