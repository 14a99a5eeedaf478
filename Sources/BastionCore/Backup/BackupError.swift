/// A backup that cannot be made, read or restored; the message names the file and the reason.
public struct BackupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
