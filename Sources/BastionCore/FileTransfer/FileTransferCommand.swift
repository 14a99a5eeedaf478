/// Which way a file transfer moves files, seen from the client.
public enum FileTransferDirection: String, Sendable, Hashable {
    /// The target is the sink: the client sends files (`scp -t`, `rsync --server`).
    case upload
    /// The target is the source: the client receives files (`scp -f`, `rsync --server --sender`).
    case download
}

/// An exec command that is a file transfer, as the relay classifies it at channel start to
/// apply ``FileTransferPolicy/permits(_:)`` and pick the parser.
public enum FileTransferCommand: Sendable, Equatable {
    /// `scp -t`/`scp -f` as OpenSSH's `scp -O` sends it: parse the channel with ``SCPSession``.
    case scp(SCPCommand)
    /// A path ending in `sftp-server` (`sftp -s /usr/lib/openssh/sftp-server` runs it by exec,
    /// not as a subsystem): parse the channel with ``SFTPSession``.
    case sftpServer
    /// The program is `scp` but the line is not one OpenSSH's scp sends (shell operators,
    /// unknown options, no `-t`/`-f`): its direction cannot be known, so only `allow` runs it.
    case unparsedSCP
    /// `rsync --server …` as an rsync client starts it over ssh: governed by its direction,
    /// not parsed (rsync's own protocol is not followed file by file).
    case rsync(RsyncCommand)
    /// `rsync --server` in a form Bastion cannot judge (shell operators, `--daemon`, a
    /// `--sender` out of place, a path that could be read as an option): only `allow` runs it.
    case unparsedRsync

    /// Classifies `commandLine`; nil when it is no file transfer. A leading `sudo` (as
    /// `rsync --rsync-path="sudo rsync"` and `sftp -s "sudo …/sftp-server"` send) is looked
    /// through. Other wrappers are not: a role that may run commands can move bytes anyway.
    public static func recognise(_ commandLine: String) -> FileTransferCommand? {
        guard let split = ShellWords.split(commandLine) else {
            // Shell syntax Bastion does not follow: judge by the first word, quotes dropped.
            let naive = commandLine.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { word in
                String(word.filter { !"'\"\\".contains($0) })
            }
            let first = withoutSudo(naive).first ?? ""
            if isProgram(first, "scp") { return .unparsedSCP }
            if isProgram(first, "sftp-server") { return .sftpServer }
            if isProgram(first, "rsync") && commandLine.contains("--server") { return .unparsedRsync }
            return nil
        }
        let words = withoutSudo(split)
        guard let program = words.first else { return nil }
        if isProgram(program, "sftp-server") { return .sftpServer }
        let arguments = Array(words.dropFirst())
        if isProgram(program, "rsync") {
            guard arguments.first == "--server" else { return nil }  // rsync copying on the target itself
            return RsyncCommand(arguments: arguments).map(FileTransferCommand.rsync) ?? .unparsedRsync
        }
        guard isProgram(program, "scp") else { return nil }
        return SCPCommand(arguments: arguments).map(FileTransferCommand.scp) ?? .unparsedSCP
    }

    /// `words` without a leading `sudo` and its options (`-u USER`, `-n`, …).
    private static func withoutSudo(_ words: [String]) -> [String] {
        guard let first = words.first, isProgram(first, "sudo") else { return words }
        var index = 1
        while index < words.count, words[index].hasPrefix("-") {
            if words[index] == "--" { index += 1; break }
            index += sudoOptionsWithValue.contains(words[index]) ? 2 : 1
        }
        return Array(words[min(index, words.count)...])
    }

    /// sudo's options that take the next word as their value (`-u USER`, `-g GROUP`, …).
    private static let sudoOptionsWithValue: Set<String> = ["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U"]

    private static func isProgram(_ word: String, _ name: String) -> Bool {
        word == name || word.hasSuffix("/" + name)
    }
}

/// `scp [-v] [-r] [-p] [-d] -t|-f [--] PATH...`: the remote half of a legacy scp transfer
/// (OpenSSH scp.c builds it as `"scp" + " -v" + " -r" + " -p" + " -d" + " -t " + path`).
public struct SCPCommand: Sendable, Equatable {
    /// `-t` is an upload, `-f` a download.
    public typealias Direction = FileTransferDirection

    public var direction: Direction
    /// The paths after the options, shell quoting removed: one for `-t`, one or more
    /// (possibly globs the target's shell expands) for `-f`.
    public var paths: [String]
    /// `-r`.
    public var recursive: Bool
    /// `-d`: the target must be a directory (several sources).
    public var targetIsDirectory: Bool
    /// `-p`: times are sent (`T` lines).
    public var preservesTimes: Bool

    /// The first path.
    public var path: String { paths[0] }

    /// Parses the words after the program name; nil for anything else, including options
    /// scp accepts but the remote half never gets.
    public init?(arguments: [String]) {
        var direction: Direction?
        var recursive = false, directory = false, times = false
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "-" {
            let word = arguments[index]
            index += 1
            if word == "--" { break }
            for letter in word.dropFirst() {
                switch letter {
                case "t", "f":
                    let next: Direction = letter == "t" ? .upload : .download
                    guard direction == nil || direction == next else { return nil }
                    direction = next
                case "r": recursive = true
                case "d": directory = true
                case "p": times = true
                case "v", "q": break
                default: return nil
                }
            }
        }
        let paths = Array(arguments[index...])
        guard let direction, !paths.isEmpty, direction == .download || paths.count == 1 else { return nil }
        self.direction = direction
        self.paths = paths
        self.recursive = recursive
        self.targetIsDirectory = directory
        self.preservesTimes = times
    }

    /// Parses a whole command line (`scp -t -- /tmp`); nil unless it is a clean scp transfer.
    public static func parse(_ commandLine: String) -> SCPCommand? {
        guard case .scp(let command) = FileTransferCommand.recognise(commandLine) else { return nil }
        return command
    }
}

/// Splits a command line into words the way a POSIX shell would for the simple commands scp
/// sends: blanks separate, quotes and backslashes quote. nil when the line uses anything else
/// (`;`, `|`, `&`, redirections, `$`, backquotes, subshells, comments, newlines), since the
/// target's shell would then run more than one program. Glob characters and `~` stay in the
/// words: the target expands them, as `scp host:'*.log' .` expects.
enum ShellWords {
    static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var word = ""
        var inWord = false
        var iterator = line.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            switch scalar {
            case " ", "\t":
                if inWord { words.append(word) }
                word = ""
                inWord = false
            case "'":
                inWord = true
                while true {
                    guard let next = iterator.next() else { return nil }
                    if next == "'" { break }
                    word.unicodeScalars.append(next)
                }
            case "\"":
                inWord = true
                while true {
                    guard let next = iterator.next() else { return nil }
                    if next == "\"" { break }
                    if next == "$" || next == "`" { return nil }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { return nil }
                        if !["\\", "\"", "$", "`"].contains(escaped) { word.unicodeScalars.append(next) }
                        word.unicodeScalars.append(escaped)
                    } else {
                        word.unicodeScalars.append(next)
                    }
                }
            case "\\":
                guard let escaped = iterator.next(), escaped != "\n" else { return nil }
                inWord = true
                word.unicodeScalars.append(escaped)
            case ";", "&", "|", "<", ">", "(", ")", "$", "`", "\n", "\r", "{", "}":
                return nil
            case "#" where !inWord:
                return nil
            default:
                inWord = true
                word.unicodeScalars.append(scalar)
            }
        }
        if inWord { words.append(word) }
        return words
    }
}
