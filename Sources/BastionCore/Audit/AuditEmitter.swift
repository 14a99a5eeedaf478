/// The one seam through which every audit event leaves the domain.
///
/// Fail closed: callers perform the action they record only if ``append(_:)`` returned.
/// A thrown error means "not recorded", and the caller must refuse or stop the action.
public protocol AuditEmitter: Sendable {
    func append(_ event: AuditEvent) throws
}
