public import BastionCore

/// What the front door needs to open relayed sessions (`ssh LOGIN@TARGET@bastion`).
public struct SessionServices: Sendable {
    /// Roles and targets as the file says now: read at each decision, so a reload applies to
    /// the next login and, through the enforcement point, to sessions already running.
    public var policySource: any PolicySource
    public var policy: Policy { policySource.current }
    public var authorizer: SessionAuthorizer { SessionAuthorizer(policy: policy) }
    /// Signs the per-session certificate Bastion presents to targets.
    public var upstreamAuthority: CertificateAuthority
    public var settings: SessionSettings
    /// Re-read during a session so that `user lock` and `user remove` end it.
    public var users: any UserStore
    /// Where live sessions are listed and kill requests arrive (`bastiond session …`).
    public var registry: any SessionStore
    /// Grants for `elevated_logins`; nil: such logins are refused.
    public var elevation: ElevationService?
    /// Where live recordings are found to receive markers from elsewhere (elevation, sudo).
    public var markers: LiveSessionMarkers?
    /// Where live sessions are found by `watch ID`; nil: sessions cannot be watched.
    public var broadcasts: LiveSessionBroadcasts?
    /// Where a session's end is recorded when the store does not answer at that moment.
    public var afterTheFact: AfterTheFactQueue
    /// Seals recordings (`recording.encrypt`); nil: plain `.cast` files.
    public var recordingKeys: RecordingKeys?

    public init(
        upstreamAuthority: CertificateAuthority, settings: SessionSettings, users: any UserStore,
        registry: any SessionStore, policy: any PolicySource, elevation: ElevationService? = nil, markers: LiveSessionMarkers? = nil,
        afterTheFact: AfterTheFactQueue = AfterTheFactQueue(), recordingKeys: RecordingKeys? = nil, broadcasts: LiveSessionBroadcasts? = nil
    ) {
        self.broadcasts = broadcasts
        self.afterTheFact = afterTheFact
        self.recordingKeys = recordingKeys
        self.elevation = elevation
        self.markers = markers
        self.policySource = policy
        self.registry = registry
        self.upstreamAuthority = upstreamAuthority
        self.settings = settings
        self.users = users
    }
}
