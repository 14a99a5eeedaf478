import BastionCore
import BastionHTTP
import Foundation
import Logging

extension HTTPRouteContext {
    /// The HTTP routes over a running bastion's stores, policy and settings.
    init(
        environment: BastionEnvironment, elevation: ElevationService, archive: any SessionArchive, audit: any AuditEmitter, logger: Logger,
        broadcasts: LiveSessionBroadcasts? = nil
    ) {
        let configuration = environment.configuration
        let slack = configuration.chatops.slack
        var slackActions: SlackActionHandler?
        if slack.interactive, let secret = slack.signingSecret {
            slackActions = SlackActionHandler(
                users: slack.users, signature: SlackRequestSignature(signingSecret: secret), elevation: elevation, audit: audit,
                clock: environment.clock
            )
        }
        self.init(
            elevation: elevation, audit: audit, clock: environment.clock, logger: logger,
            sudoCheck: SudoCheck(
                elevation: elevation, users: environment.users, sessions: environment.sessions, policy: environment.policy,
                tokens: environment.targetTokens, audit: audit, clock: environment.clock
            ),
            webSessions: WebSessions(environment: environment, audit: audit), archive: archive,
            assetsDirectory: configuration.http.assetsDirectory, sshPort: configuration.ssh.listen.port,
            publicHost: URL(string: configuration.http.publicURL)?.host ?? "bastion", slackActions: slackActions,
            requireClientCertificate: configuration.http.tls?.clientCA != nil, broadcasts: broadcasts
        )
    }
}

extension WebSessions {
    /// Over a running bastion's stores and policy.
    init(environment: BastionEnvironment, audit: any AuditEmitter) {
        self.init(
            store: environment.webSessions, users: environment.users, policy: environment.policy, audit: audit,
            clock: environment.clock, publicURL: environment.configuration.http.publicURL
        )
    }
}
