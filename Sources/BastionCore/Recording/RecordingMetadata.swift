public import Foundation

/// What a recording's header says about the session: who, where from, where to, and the
/// terminal the player must emulate.
public struct RecordingMetadata: Sendable {
    /// Names the file (`<sessionID>.cast`), so it must be a plain file name.
    public var sessionID: String
    /// The Bastion user who opened the session.
    public var user: String
    /// The account on the target (the SSH login name used upstream).
    public var login: String
    /// The target's name as the policy knows it.
    public var target: String
    /// The engineer's address as seen by the bastion.
    public var sourceAddress: String
    /// Terminal columns at the start (asciicast `width`).
    public var width: Int
    /// Terminal rows at the start (asciicast `height`).
    public var height: Int
    /// `TERM` from the pty request, if any.
    public var term: String?
    /// `SHELL`, if the client sent it.
    public var shell: String?
    /// The exec command, if this is an exec channel rather than a shell.
    public var command: String?
    /// A human title for players and listings.
    public var title: String?
    /// The instant the session started: the header `timestamp`, the origin of every event
    /// time, and the UTC date that picks the `YYYY/MM/DD` folder.
    public var startedAt: Date
    /// A channel without a terminal (exec, subsystem): binary output stretches become markers
    /// instead of escaped text, and the summary carries the stream digests.
    public var streams: Bool

    public init(
        sessionID: String,
        user: String,
        login: String,
        target: String,
        sourceAddress: String,
        width: Int,
        height: Int,
        term: String? = nil,
        shell: String? = nil,
        command: String? = nil,
        title: String? = nil,
        startedAt: Date,
        streams: Bool = false
    ) {
        self.sessionID = sessionID
        self.user = user
        self.login = login
        self.target = target
        self.sourceAddress = sourceAddress
        self.width = width
        self.height = height
        self.term = term
        self.shell = shell
        self.command = command
        self.title = title
        self.startedAt = startedAt
        self.streams = streams
    }
}
