import Foundation
import Synchronization

/// The recorders of the sessions running now, by user and target, so that something that
/// happens elsewhere (an approval on the web page, a sudo check from the target) can leave a
/// marker (`"m"` event) in the recording of the session it concerns.
public final class LiveSessionMarkers: Sendable {
    private struct Entry {
        var user: String
        var target: String
        var recorder: SessionRecorder
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    public func register(sessionID: String, user: String, target: String, recorder: SessionRecorder) {
        entries.withLock { $0[sessionID] = Entry(user: user, target: target, recorder: recorder) }
    }

    public func unregister(sessionID: String) {
        _ = entries.withLock { $0.removeValue(forKey: sessionID) }
    }

    /// Offers `label` to every live recording of `user` on `target`; returns how many took it.
    @discardableResult
    public func mark(user: String, target: String, label: String) -> Int {
        let recorders = entries.withLock { $0.values.filter { $0.user == user && $0.target == target }.map(\.recorder) }
        return recorders.filter { $0.offerMarker(label) }.count
    }
}

/// Passes every event on, and marks the recordings of live sessions it concerns: elevation
/// requests, decisions and grants, and the target's sudo checks appear in the session as
/// markers (`]` jumps to them in `replay`), next to the output they explain.
public struct MarkingAuditEmitter: AuditEmitter {
    private let inner: any AuditEmitter
    private let markers: LiveSessionMarkers

    public init(wrapping inner: any AuditEmitter, markers: LiveSessionMarkers) {
        self.inner = inner
        self.markers = markers
    }

    public func append(_ event: AuditEvent) throws {
        try inner.append(event)
        guard let label = Self.label(for: event), let target = event.target else { return }
        let user = event.type == .elevationSudo ? event.actor?.user : event.details[.requester]
        guard let user else { return }
        markers.mark(user: user, target: target, label: label)
    }

    /// The marker text for `event`, or nil when it marks nothing.
    public static func label(for event: AuditEvent) -> String? {
        let id = event.details[.requestID] ?? "?"
        switch event.type {
        case .elevationRequested:
            return "elevation \(id) requested: \(event.details[.login] ?? "?") for \(event.details[.duration] ?? "?")"
        case .elevationApproved:
            return "elevation \(id) approved by \(event.details[.approver] ?? "?")"
        case .elevationDenied:
            return "elevation \(id) denied by \(event.details[.approver] ?? "?")"
        case .elevationActive:
            let until = event.details[.grantEnds].flatMap(Double.init).map { ElevateConversation.clock(Date(timeIntervalSince1970: $0)) }
            return "elevation \(id) active until \(until ?? "?")"
        case .elevationEnded, .elevationRevoked, .elevationExpired, .elevationWithdrawn:
            return "elevation \(id) \(event.type.name.dropFirst("elevation.".count))"
        case .elevationSudo:
            let command = event.details[.command].map { String($0.prefix(120)) } ?? ""
            return "sudo \(event.details[.decision] ?? "?"): \(command)"
        default:
            return nil
        }
    }
}
