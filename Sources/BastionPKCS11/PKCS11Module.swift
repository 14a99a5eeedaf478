import CPKCS11
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A vendor PKCS#11 library (softhsm2, Luna, YubiHSM 2, CloudHSM), loaded with dlopen so that
/// Bastion links no HSM code, and initialised for multi-threaded use (CKF_OS_LOCKING_OK).
///
/// Cryptoki is initialised once per process, not per handle: two `PKCS11Module`s on the same
/// library share one C_Initialize, and C_Finalize runs when the last of them goes away (see
/// `LoadedLibraries`). Keep one instance for the life of the process in production.
public final class PKCS11Module: Sendable {
    public let path: String
    let functions: FunctionList
    private let library: LoadedLibraries.Handle

    public init(path: String) throws(PKCS11Error) {
        self.path = path
        (library, functions) = try LoadedLibraries.open(path)
    }

    deinit {
        LoadedLibraries.close(library, functions)
    }

    /// The library's own description, e.g. "SoftHSM 2.6" from "Implementation of PKCS11".
    public func info() throws(PKCS11Error) -> (manufacturer: String, library: String) {
        var info = CK_INFO()
        try check(functions.list.pointee.C_GetInfo(&info), "C_GetInfo")
        return (paddedString(info.manufacturerID), paddedString(info.libraryDescription))
    }
}

/// The library's CK_FUNCTION_LIST. It is owned by the library, immutable after C_GetFunctionList,
/// and its functions may be called from any thread once C_Initialize ran with CKF_OS_LOCKING_OK,
/// which is what makes sharing the pointer sound.
struct FunctionList: @unchecked Sendable {
    let list: UnsafeMutablePointer<CK_FUNCTION_LIST>
}

/// Process-wide reference counts of initialised libraries, keyed by dlopen handle (dlopen returns
/// the same handle for the same library). C_Initialize and C_Finalize run under the lock so two
/// threads opening and closing the same library cannot interleave them.
enum LoadedLibraries {
    struct Handle: @unchecked Sendable {  // an opaque dlopen handle, only passed back to dlclose
        let raw: UnsafeMutableRawPointer
    }

    private struct Entry {
        var users: Int
        /// False when someone else in the process (another PKCS#11 consumer) initialised the
        /// library first: then it is theirs to finalise.
        var finalizes: Bool
    }

    private static let entries = Mutex<[UInt: Entry]>([:])

    private typealias GetFunctionList = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV

    static func open(_ path: String) throws(PKCS11Error) -> (Handle, FunctionList) {
        // RTLD_LOCAL keeps the vendor library's symbols (often its own OpenSSL) out of our namespace.
        guard let raw = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw PKCS11Error(.moduleNotLoadable, "cannot load \(path): \(lastDLError())")
        }
        let handle = Handle(raw: raw)
        do throws(PKCS11Error) {
            let functions = try functionList(handle, path)
            try entries.withLock { entries throws(PKCS11Error) in
                let key = UInt(bitPattern: raw)
                if var entry = entries[key] {
                    entry.users += 1
                    entries[key] = entry
                    return
                }
                var arguments = CK_C_INITIALIZE_ARGS()
                arguments.flags = CKF_OS_LOCKING_OK
                let rv = withUnsafeMutablePointer(to: &arguments) { functions.list.pointee.C_Initialize(UnsafeMutableRawPointer($0)) }
                switch rv {
                case CKR_OK: entries[key] = Entry(users: 1, finalizes: true)
                case CKR_CRYPTOKI_ALREADY_INITIALIZED: entries[key] = Entry(users: 1, finalizes: false)
                default: throw PKCS11Error(function: "C_Initialize", returnValue: rv)
                }
            }
            return (handle, functions)
        } catch {
            dlclose(raw)
            throw error
        }
    }

    static func close(_ handle: Handle, _ functions: FunctionList) {
        entries.withLock { entries in
            let key = UInt(bitPattern: handle.raw)
            guard var entry = entries[key] else { return }
            entry.users -= 1
            if entry.users > 0 {
                entries[key] = entry
                return
            }
            entries[key] = nil
            if entry.finalizes { _ = functions.list.pointee.C_Finalize(nil) }
        }
        dlclose(handle.raw)
    }

    private static func functionList(_ handle: Handle, _ path: String) throws(PKCS11Error) -> FunctionList {
        guard let symbol = dlsym(handle.raw, "C_GetFunctionList") else {
            throw PKCS11Error(.moduleNotLoadable, "cannot load \(path): no C_GetFunctionList (\(lastDLError()))")
        }
        let getFunctionList = unsafeBitCast(symbol, to: GetFunctionList.self)
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        let rv = getFunctionList(&list)
        guard rv == CKR_OK, let list else {
            throw PKCS11Error(.moduleNotLoadable, "cannot load \(path): C_GetFunctionList: \(returnValueName(rv))")
        }
        // PKCS#11 requires every entry to be present (unsupported ones return
        // CKR_FUNCTION_NOT_SUPPORTED); checking once here lets the call sites use them directly.
        let f = list.pointee
        let present: [Bool] = [
            f.C_Initialize != nil, f.C_Finalize != nil, f.C_GetInfo != nil, f.C_GetSlotList != nil,
            f.C_GetTokenInfo != nil, f.C_OpenSession != nil, f.C_CloseSession != nil, f.C_Login != nil,
            f.C_FindObjectsInit != nil, f.C_FindObjects != nil, f.C_FindObjectsFinal != nil,
            f.C_GetAttributeValue != nil, f.C_DestroyObject != nil, f.C_GenerateKey != nil,
            f.C_GenerateKeyPair != nil, f.C_EncryptInit != nil, f.C_Encrypt != nil,
            f.C_DecryptInit != nil, f.C_Decrypt != nil, f.C_SignInit != nil, f.C_Sign != nil,
        ]
        guard !present.contains(false) else {
            throw PKCS11Error(.moduleNotLoadable, "cannot load \(path): its function list has empty entries")
        }
        return FunctionList(list: list)
    }

    private static func lastDLError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown error"
    }
}

/// PKCS#11 fixed-width text fields (labels, descriptions) are blank padded, not NUL terminated.
func paddedString<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { bytes in
        let trimmed = bytes.prefix { $0 != 0 }
        var text = String(decoding: trimmed, as: UTF8.self)
        while text.last == " " { text.removeLast() }
        return text
    }
}
