import CPKCS11
import Dispatch
import Synchronization

/// A bounded pool of PKCS#11 sessions on one slot.
///
/// A session runs one operation at a time (C_SignInit ... C_Sign), so concurrent callers each
/// borrow their own. The lock is held only to pop or push a handle; opening a session and the
/// cryptographic call itself run outside it. `capacity` caps sessions because HSMs limit them
/// (per partition or per application) and more sessions than HSM cores only queue in the HSM.
final class SessionPool: Sendable {
    private struct State {
        var idle: [CK_SESSION_HANDLE] = []
        var open = 0
        var closed = false
    }

    private let functions: FunctionList
    private let slot: CK_SLOT_ID
    private let state = Mutex(State())
    /// Counts sessions that may still be handed out (idle or openable); a borrower that finds
    /// it at zero waits here for a `giveBack` or `discard`.
    private let permits: DispatchSemaphore

    init(functions: FunctionList, slot: CK_SLOT_ID, capacity: Int) {
        self.functions = functions
        self.slot = slot
        self.permits = DispatchSemaphore(value: capacity)
    }

    /// Opens a read-write session outside the pool (read-write because key generation and
    /// destruction create and delete token objects).
    static func openSession(_ functions: FunctionList, slot: CK_SLOT_ID) throws(PKCS11Error) -> CK_SESSION_HANDLE {
        var session = CK_SESSION_HANDLE(CK_INVALID_HANDLE)
        let flags = CK_FLAGS(CKF_SERIAL_SESSION | CKF_RW_SESSION)
        try check(functions.list.pointee.C_OpenSession(slot, flags, nil, nil, &session), "C_OpenSession")
        return session
    }

    /// Runs `body` on a borrowed session. A session whose call failed in a way that may leave it
    /// unusable (lost, or with an operation still active) is closed instead of reused.
    func withSession<R>(_ body: (CK_SESSION_HANDLE) throws(PKCS11Error) -> R) throws(PKCS11Error) -> R {
        let session = try borrow()
        do {
            let result = try body(session)
            giveBack(session)
            return result
        } catch {
            if error.poisonsSession { discard(session) } else { giveBack(session) }
            throw error
        }
    }

    private enum Borrowed {
        case idle(CK_SESSION_HANDLE)
        case mustOpen
        case poolClosed
    }

    private func borrow() throws(PKCS11Error) -> CK_SESSION_HANDLE {
        permits.wait()
        let borrowed: Borrowed = state.withLock { state in
            if state.closed { return .poolClosed }
            if let session = state.idle.popLast() { return .idle(session) }
            state.open += 1  // reserve the place; the session is opened below, outside the lock
            return .mustOpen
        }
        switch borrowed {
        case .idle(let session):
            return session
        case .poolClosed:
            permits.signal()
            throw PKCS11Error(.invalidArgument, "token session pool is closed")
        case .mustOpen:
            do {
                return try Self.openSession(functions, slot: slot)
            } catch {
                state.withLock { $0.open -= 1 }
                permits.signal()
                throw error
            }
        }
    }

    private func giveBack(_ session: CK_SESSION_HANDLE) {
        state.withLock { $0.idle.append(session) }
        permits.signal()
    }

    private func discard(_ session: CK_SESSION_HANDLE) {
        _ = functions.list.pointee.C_CloseSession(session)
        state.withLock { $0.open -= 1 }
        permits.signal()
    }

    /// Closes every idle session; called when the token is released, when none are borrowed.
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for session in idle { _ = functions.list.pointee.C_CloseSession(session) }
    }

    /// Sessions currently open (idle or borrowed), for tests.
    var openCount: Int { state.withLock { $0.open } }
}
