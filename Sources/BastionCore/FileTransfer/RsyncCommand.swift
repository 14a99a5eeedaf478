/// `rsync --server [--sender] -FLAGS [--OPTION [VALUE]]... . PATH...`: the remote half an
/// rsync client starts over ssh (`rsync -a d/ host:d/`, `rsync host:f .`; rsync 3.x's
/// `server_options()` builds it in this order).
///
/// Bastion does not follow rsync's protocol file by file; it takes the direction from
/// `--sender` (the target sends: a download) and refuses, by returning nil, every line whose
/// direction it could misjudge: the target's rsync parses options anywhere on the line, so a
/// `--sender`, `--server` or `--daemon` out of place, or a path beginning with `-` (the rsync
/// client sends `./-name`), makes the line unjudgeable.
public struct RsyncCommand: Sendable, Equatable {
    public var direction: FileTransferDirection
    /// The first option that makes the target write even while it only sends (a download):
    /// `--remove-source-files` (or its old name `--remove-sent-files`) deletes what it sent,
    /// and `--log-file`, `--write-batch`, `--only-write-batch` (which `rsync -M` passes to the
    /// target) write a file of the client's choosing. Changes only an upload right covers.
    public var writesOnTarget: String?
    /// The paths after the `.` separator, shell quoting removed.
    public var paths: [String]

    /// Parses the words after the program name; nil for anything but a clean server line.
    public init?(arguments: [String]) {
        guard arguments.first == "--server" else { return nil }
        var rest = arguments.dropFirst()
        var direction = FileTransferDirection.upload
        if rest.first == "--sender" {
            direction = .download
            rest = rest.dropFirst()
        }
        guard let separator = rest.firstIndex(of: ".") else { return nil }
        let options = rest[..<separator]
        let paths = Array(rest[rest.index(after: separator)...])
        guard !options.contains(where: { Self.misplaced.contains($0) || $0.hasPrefix("--daemon=") }),
              !paths.isEmpty, !paths.contains(where: { $0.hasPrefix("-") })
        else { return nil }
        self.direction = direction
        self.writesOnTarget = options.lazy.compactMap(Self.writingOption).first
        self.paths = paths
    }

    /// What the policy judges: a download that writes on the target needs upload rights too.
    var needsUploadRight: Bool { direction == .upload || writesOnTarget != nil }

    /// Options that change the target's role when they appear anywhere but first.
    private static let misplaced: Set<String> = ["--sender", "--server", "--daemon"]
    /// Options that make a sending target write.
    private static let writing: Set<String> = ["--remove-source-files", "--remove-sent-files", "--log-file", "--write-batch", "--only-write-batch"]

    /// The option's name when `word` is one of the options that write on a sending target.
    private static func writingOption(_ word: String) -> String? {
        let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
        return writing.contains(name) ? name : nil
    }
}
