import CPKCS11

/// The one error of this module (STYLE rule 8): a code to branch on, and a message naming the
/// PKCS#11 function and its `CKR_` result. Messages never carry the PIN or key material.
public struct PKCS11Error: Error, CustomStringConvertible, Equatable, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { description = name }

        /// dlopen or C_GetFunctionList failed, or the library lacks a function Bastion calls.
        public static let moduleNotLoadable = Code("moduleNotLoadable")
        /// No token with the requested label is present.
        public static let tokenNotFound = Code("tokenNotFound")
        /// A PKCS#11 function returned something other than CKR_OK; see `returnValue`.
        public static let functionFailed = Code("functionFailed")
        /// More than one object matched a label that must name exactly one key.
        public static let ambiguousLabel = Code("ambiguousLabel")
        /// An object exists but is not what Bastion expects (half a key pair, odd public key).
        public static let unexpectedObject = Code("unexpectedObject")
        /// The caller passed something the mechanism cannot take (for example a 16-byte GCM IV).
        public static let invalidArgument = Code("invalidArgument")
    }

    public let code: Code
    /// The raw `CK_RV` when `code == .functionFailed`.
    public let returnValue: UInt?
    private let message: String

    public var description: String { message }

    /// The `CKR_` name of `returnValue`, e.g. "CKR_PIN_INCORRECT".
    public var returnValueName: String? { returnValue.map { BastionPKCS11.returnValueName(CK_RV($0)) } }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.returnValue = nil
        self.message = message
    }

    /// `function` is a PKCS#11 entry point name; the message is "C_Login: CKR_PIN_INCORRECT".
    init(function: StaticString, returnValue rv: CK_RV) {
        self.code = .functionFailed
        self.returnValue = UInt(rv)
        self.message = "\(function): \(BastionPKCS11.returnValueName(rv))"
    }

    public static func == (lhs: PKCS11Error, rhs: PKCS11Error) -> Bool {
        lhs.code == rhs.code && lhs.returnValue == rhs.returnValue
    }

    /// Whether the session the call ran on should be closed rather than reused: the module lost
    /// it, or an operation may still be active on it.
    var poisonsSession: Bool {
        guard let rv = returnValue.map({ CK_RV($0) }) else { return false }
        return [
            CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR,
            CKR_TOKEN_NOT_PRESENT, CKR_OPERATION_ACTIVE, CKR_BUFFER_TOO_SMALL, CKR_GENERAL_ERROR,
        ].contains(rv)
    }
}

/// Turns a PKCS#11 return value into a thrown error.
@inline(__always)
func check(_ rv: CK_RV, _ function: StaticString) throws(PKCS11Error) {
    guard rv == CKR_OK else { throw PKCS11Error(function: function, returnValue: rv) }
}
