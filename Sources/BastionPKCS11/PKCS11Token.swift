import CPKCS11

/// One token (an HSM partition, a softhsm2 token), found by label and logged in as the user.
///
/// Keys live in the token and never leave it: this type hands out handles (`PKCS11Key`,
/// `PKCS11SigningKey`) and asks the token to use them. Every operation is safe to call from many
/// threads at once; each borrows its own session from a small pool (`SessionPool`).
///
/// The PIN is used once, for C_Login, and is not kept. Login state belongs to the process and
/// ends when its last session on the token closes, so the session that logged in is held apart
/// from the pool and never used for operations: the pool may then close a broken session
/// without logging everyone out (which would make every CKA_PRIVATE handle invalid).
public final class PKCS11Token: Sendable {
    public let label: String
    let module: PKCS11Module
    let slot: CK_SLOT_ID
    let sessions: SessionPool
    private let loginSession: CK_SESSION_HANDLE

    var functions: UnsafeMutablePointer<CK_FUNCTION_LIST> { module.functions.list }

    /// - Parameter maxSessions: the most sessions open at once; concurrent callers beyond it wait.
    public init(module: PKCS11Module, label: String, pin: [UInt8], maxSessions: Int = 8) throws(PKCS11Error) {
        self.label = label
        self.module = module
        self.slot = try Self.slot(labelled: label, in: module)
        self.sessions = SessionPool(functions: module.functions, slot: slot, capacity: max(1, maxSessions))

        let session = try SessionPool.openSession(module.functions, slot: slot)
        do {
            try Self.login(session, pin: pin, functions: module.functions.list)
        } catch {
            _ = module.functions.list.pointee.C_CloseSession(session)
            throw error
        }
        loginSession = session
    }

    deinit {
        sessions.close()
        _ = functions.pointee.C_CloseSession(loginSession)
    }

    /// Destroys every object carrying `label` (both halves of a key pair, a retired key).
    public func destroyObjects(label: String) throws(PKCS11Error) {
        try sessions.withSession { session throws(PKCS11Error) in
            for object in try findObjects([.string(CKA_LABEL, label)], in: session) {
                try check(functions.pointee.C_DestroyObject(session, object), "C_DestroyObject")
            }
        }
    }

    // MARK: - Slot and login

    private static func slot(labelled label: String, in module: PKCS11Module) throws(PKCS11Error) -> CK_SLOT_ID {
        let f = module.functions.list.pointee
        var slots: [CK_SLOT_ID] = []
        var rv: CK_RV
        repeat {  // the slot count can grow between the two calls; retry on CKR_BUFFER_TOO_SMALL
            var count: CK_ULONG = 0
            try check(f.C_GetSlotList(CK_BBOOL(CK_TRUE), nil, &count), "C_GetSlotList")
            slots = Array(repeating: 0, count: Int(count))
            rv = slots.withUnsafeMutableBufferPointer { f.C_GetSlotList(CK_BBOOL(CK_TRUE), $0.baseAddress, &count) }
            if rv == CKR_OK { slots.removeSubrange(Int(count)...) }
        } while rv == CKR_BUFFER_TOO_SMALL
        try check(rv, "C_GetSlotList")

        var present: [String] = []
        for slot in slots {
            var info = CK_TOKEN_INFO()
            guard f.C_GetTokenInfo(slot, &info) == CKR_OK else { continue }  // token removed meanwhile
            guard info.flags & CK_FLAGS(CKF_TOKEN_INITIALIZED) != 0 else { continue }  // a free slot
            let tokenLabel = paddedString(info.label)
            if tokenLabel == label { return slot }
            present.append(tokenLabel)
        }
        let listed = present.isEmpty ? "none" : present.joined(separator: ", ")
        throw PKCS11Error(.tokenNotFound, "no token labelled \"\(label)\" (tokens present: \(listed))")
    }

    private static func login(_ session: CK_SESSION_HANDLE, pin: [UInt8], functions: UnsafeMutablePointer<CK_FUNCTION_LIST>) throws(PKCS11Error) {
        var copy = pin
        let rv = copy.withUnsafeMutableBufferPointer { buffer in
            defer { buffer.update(repeating: 0) }  // C_Login takes a mutable pointer: wipe our copy
            return functions.pointee.C_Login(session, CK_USER_TYPE(CKU_USER), buffer.baseAddress, CK_ULONG(buffer.count))
        }
        // Another PKCS11Token on the same slot in this process already logged the process in. The
        // module does not check this PIN then: PKCS#11 login is per process, not per caller.
        guard rv != CKR_USER_ALREADY_LOGGED_IN else { return }
        try check(rv, "C_Login")
    }

    // MARK: - Objects

    /// Handles of every object matching `template`.
    func findObjects(_ template: [Attribute], in session: CK_SESSION_HANDLE) throws(PKCS11Error) -> [CK_OBJECT_HANDLE] {
        let f = functions.pointee
        try withTemplate(template) { attributes, count throws(PKCS11Error) in
            try check(f.C_FindObjectsInit(session, attributes, count), "C_FindObjectsInit")
        }
        var found: [CK_OBJECT_HANDLE] = []
        var batch = [CK_OBJECT_HANDLE](repeating: 0, count: 16)
        var rv: CK_RV = CKR_OK
        while true {
            var returned: CK_ULONG = 0
            rv = batch.withUnsafeMutableBufferPointer { f.C_FindObjects(session, $0.baseAddress, CK_ULONG($0.count), &returned) }
            guard rv == CKR_OK, returned > 0 else { break }
            found += batch.prefix(Int(returned))
        }
        let finalRV = f.C_FindObjectsFinal(session)
        try check(rv, "C_FindObjects")
        try check(finalRV, "C_FindObjectsFinal")
        return found
    }

    /// The one object matching `template`; nil when there is none, an error when several match
    /// (two keys under one label is a misconfiguration that must not pick one at random).
    func findUniqueObject(_ template: [Attribute], label: String, in session: CK_SESSION_HANDLE) throws(PKCS11Error) -> CK_OBJECT_HANDLE? {
        let found = try findObjects(template, in: session)
        guard found.count <= 1 else {
            throw PKCS11Error(.ambiguousLabel, "\(found.count) objects of the same kind are labelled \"\(label)\"")
        }
        return found.first
    }

    /// An attribute's value, read with the usual two calls (length, then value).
    func attributeValue(_ type: CK_ATTRIBUTE_TYPE, of object: CK_OBJECT_HANDLE, in session: CK_SESSION_HANDLE) throws(PKCS11Error) -> [UInt8] {
        let f = functions.pointee
        var attribute = CK_ATTRIBUTE(type: type, pValue: nil, ulValueLen: 0)
        try check(f.C_GetAttributeValue(session, object, &attribute, 1), "C_GetAttributeValue")
        // CK_UNAVAILABLE_INFORMATION, ((unsigned long)-1L) in the header, which Swift does not import.
        guard attribute.ulValueLen != CK_ULONG.max else {
            throw PKCS11Error(function: "C_GetAttributeValue", returnValue: CK_RV(CKR_ATTRIBUTE_TYPE_INVALID))
        }
        var value = [UInt8](repeating: 0, count: Int(attribute.ulValueLen))
        let rv = value.withUnsafeMutableBytes { buffer in
            attribute.pValue = buffer.baseAddress
            return f.C_GetAttributeValue(session, object, &attribute, 1)
        }
        try check(rv, "C_GetAttributeValue")
        return Array(value.prefix(Int(attribute.ulValueLen)))
    }

    /// For tests and diagnostics: one attribute of an object, on a pooled session.
    func attributeValue(_ type: CK_ATTRIBUTE_TYPE, of object: CK_OBJECT_HANDLE) throws(PKCS11Error) -> [UInt8] {
        try sessions.withSession { session throws(PKCS11Error) in try attributeValue(type, of: object, in: session) }
    }
}
