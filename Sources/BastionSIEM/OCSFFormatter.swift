public import BastionCore

/// OCSF 1.1 JSON (Open Cybersecurity Schema Framework).
///
/// `auth.*` events are class Authentication (3002), sessions opened, closed and refused and a
/// target's host-key mismatch are SSH Activity (4007), everything else is a Base Event (class 0)
/// whose `activity_name` is the dotted type. OCSF's rule `type_uid = class_uid × 100 +
/// activity_id` holds for all three. Facts OCSF has no attribute for (connection id, SSH user
/// name as typed, key fingerprint, details) go under `unmapped`, where OCSF says to put them.
/// The full table is in docs/siem.md.
public struct OCSFFormatter: EventFormatter {
    /// The OCSF schema version written into `metadata.version`.
    public static let schemaVersion = "1.1.0"

    public var product: ProductIdentity

    public init(product: ProductIdentity = ProductIdentity()) {
        self.product = product
    }

    /// Where an audit type lands in OCSF: class and activity.
    public struct Classification: Sendable, Hashable {
        public var classUID: Int
        public var className: String
        public var categoryUID: Int
        public var categoryName: String
        public var activityID: Int
        public var activityName: String

        public var typeUID: Int { classUID * 100 + activityID }
    }

    /// The class and activity of an event type.
    public static func classify(_ type: AuditEventType) -> Classification {
        func authentication(_ id: Int, _ name: String) -> Classification {
            Classification(classUID: 3002, className: "Authentication", categoryUID: 3,
                           categoryName: "Identity & Access Management", activityID: id, activityName: name)
        }
        func ssh(_ id: Int, _ name: String) -> Classification {
            Classification(classUID: 4007, className: "SSH Activity", categoryUID: 4,
                           categoryName: "Network Activity", activityID: id, activityName: name)
        }
        switch type.name {
        case "auth.login", "auth.failed", "auth.key_accepted": return authentication(1, "Logon")
        case "session.start": return ssh(1, "Open")
        case "session.end": return ssh(2, "Close")
        case "target.host_key_mismatch": return ssh(4, "Fail")
        case "session.denied": return ssh(5, "Refuse")
        default:
            if type.name.hasPrefix("auth.") { return authentication(99, "Other") }
            return Classification(classUID: 0, className: "Base Event", categoryUID: 0,
                                  categoryName: "Uncategorized", activityID: 99, activityName: type.name)
        }
    }

    /// OCSF `severity_id`: 1 Informational, 3 Medium, 4 High, 5 Critical.
    public static func severityID(_ severity: AuditSeverity) -> (id: Int, name: String) {
        switch severity {
        case .info: (1, "Informational")
        case .warning: (3, "Medium")
        case .error: (4, "High")
        case .critical: (5, "Critical")
        }
    }

    public func format(_ event: AuditEvent, id: EventID) -> [UInt8] {
        let classification = Self.classify(event.type)
        let severity = Self.severityID(event.type.severity)
        var json = CanonicalJSONWriter(capacity: 1024)
        json.beginObject()
        json.member("activity_id", classification.activityID)
        json.member("activity_name", classification.activityName)
        json.member("category_uid", classification.categoryUID)
        json.member("category_name", classification.categoryName)
        json.member("class_uid", classification.classUID)
        json.member("class_name", classification.className)
        json.member("type_uid", classification.typeUID)
        json.member("type_name", "\(classification.className): \(classification.activityName)")
        json.member("time", event.unixMilliseconds)
        json.member("severity_id", severity.id)
        json.member("severity", severity.name)
        json.member("status_id", event.outcome == .success ? 1 : 2)
        json.member("status", event.outcome == .success ? "Success" : "Failure")
        json.member("status_detail", event.reason)
        json.member("message", event.type.name)
        json.object("metadata") { metadata in
            metadata.member("version", Self.schemaVersion)
            metadata.member("uid", id.text)
            metadata.member("event_code", event.type.code)
            metadata.member("log_name", "audit")
            metadata.member("original_time", AuditEvent.timestamp(event.time))
            metadata.object("product") { productJSON in
                productJSON.member("name", product.name)
                productJSON.member("vendor_name", product.vendor)
                productJSON.member("version", product.version)
            }
        }
        switch classification.classUID {
        case 3002: writeAuthentication(event, into: &json)
        case 4007: writeSSHActivity(event, into: &json)
        default: writeActor(event, into: &json)
        }
        writeUnmapped(event, classUID: classification.classUID, into: &json)
        json.endObject()
        return json.bytes
    }

    /// Authentication 3002: `user` (required), `service` (one of service/dst_endpoint is
    /// required: Bastion itself is the service logged into), `src_endpoint`, MFA, session.
    private func writeAuthentication(_ event: AuditEvent, into json: inout CanonicalJSONWriter) {
        json.object("user") { user in
            user.member("name", event.actor?.user ?? event.connection?.sshUsername ?? "unknown")
        }
        json.object("service") { service in service.member("name", product.name) }
        writeSourceEndpoint(event, into: &json)
        json.member("is_remote", event.connection != nil)
        if let method = event.actor?.method {
            json.member("is_mfa", method.contains("totp"))
            json.member("auth_protocol_id", 99)
            json.member("auth_protocol", "SSH \(method)")
        }
        if let session = event.session {
            json.object("session") { object in object.member("uid", session.id.rawValue) }
        }
    }

    /// SSH Activity 4007: the target host as `dst_endpoint`, the client as `src_endpoint`,
    /// the Bastion user and session in `actor`.
    private func writeSSHActivity(_ event: AuditEvent, into json: inout CanonicalJSONWriter) {
        writeActor(event, into: &json)
        writeSourceEndpoint(event, into: &json)
        if let target = event.target {
            json.object("dst_endpoint") { endpoint in endpoint.member("hostname", target) }
        }
    }

    private func writeActor(_ event: AuditEvent, into json: inout CanonicalJSONWriter) {
        guard event.actor?.user != nil || event.session != nil else { return }
        json.object("actor") { actor in
            if let name = event.actor?.user {
                actor.object("user") { user in user.member("name", name) }
            }
            if let session = event.session {
                actor.object("session") { object in object.member("uid", session.id.rawValue) }
            }
        }
    }

    private func writeSourceEndpoint(_ event: AuditEvent, into json: inout CanonicalJSONWriter) {
        guard let connection = event.connection else { return }
        json.object("src_endpoint") { endpoint in
            endpoint.member(CEFFormatter.isIPAddress(connection.remoteAddress) ? "ip" : "hostname", connection.remoteAddress)
            endpoint.member("port", connection.remotePort)
        }
    }

    /// Bastion facts without an OCSF attribute in the chosen class.
    private func writeUnmapped(_ event: AuditEvent, classUID: Int, into json: inout CanonicalJSONWriter) {
        var fields: [(String, String)] = []
        if let connection = event.connection {
            fields.append(("connection_id", connection.id.rawValue))
            if let typed = connection.sshUsername { fields.append(("ssh_username", typed)) }
        }
        if let fingerprint = event.actor?.keyFingerprint { fields.append(("key_fingerprint", fingerprint)) }
        if let serial = event.actor?.certificateSerial { fields.append(("certificate_serial", serial)) }
        if classUID != 3002, let method = event.actor?.method { fields.append(("auth_method", method)) }
        if let login = event.session?.login { fields.append(("login", login)) }
        if classUID != 4007, let target = event.target { fields.append(("target", target)) }
        guard !fields.isEmpty || !event.details.isEmpty else { return }
        json.object("unmapped") { unmapped in
            for (key, value) in fields { unmapped.member(key, value) }
            if !event.details.isEmpty {
                unmapped.object("details") { details in
                    for key in event.details.keys.sorted() { details.member(key, event.details[key]) }
                }
            }
        }
    }
}
