import CPKCS11
import Dispatch
import Foundation
import Synchronization
import XCTest
@testable import BastionPKCS11

/// Against a real softhsm2 token (no mocks): keys are generated in it, and signatures are checked
/// with the OpenSSL command line.
final class PKCS11TokenTests: XCTestCase {
    private var fixture: SoftHSMFixture!

    override func setUpWithError() throws {
        fixture = try SoftHSMFixture()
    }

    override func tearDown() {
        fixture?.remove()
        fixture = nil
    }

    // MARK: - Ed25519

    func testEd25519SignatureVerifiesWithOpenSSLAndTamperingFails() throws {
        let token = try fixture.openToken()
        let key = try token.generateEd25519Key(label: "ca-sign")
        XCTAssertEqual(key.publicKey.count, 32)

        let message = Array("ssh-ed25519-cert-v01@openssh.com to be signed".utf8)
        let signature = try token.sign(message, with: key)
        XCTAssertEqual(signature.count, 64)
        XCTAssertTrue(try fixture.opensslVerifies(signature: signature, message: message, publicKey: key.publicKey))

        var tampered = message
        tampered[0] ^= 0x01
        XCTAssertFalse(try fixture.opensslVerifies(signature: signature, message: tampered, publicKey: key.publicKey))
        var badSignature = signature
        badSignature[10] ^= 0x80
        XCTAssertFalse(try fixture.opensslVerifies(signature: badSignature, message: message, publicKey: key.publicKey))
    }

    func testKeyIsFoundAgainAfterReopeningTheModule() throws {
        let message = Array("persisted".utf8)
        let generated: PKCS11SigningKey
        do {
            let token = try fixture.openToken()
            generated = try token.generateEd25519Key(label: "ca-persist")
        }  // the token and module go away here: C_Finalize, then a fresh C_Initialize below

        let token = try fixture.openToken()
        let found = try XCTUnwrap(try token.findEd25519Key(label: "ca-persist"))
        XCTAssertEqual(found.publicKey, generated.publicKey)
        let signature = try token.sign(message, with: found)
        XCTAssertTrue(try fixture.opensslVerifies(signature: signature, message: message, publicKey: generated.publicKey))
    }

    func testPrivateKeyCannotBeRead() throws {
        let token = try fixture.openToken()
        let key = try token.generateEd25519Key(label: "ca-sealed")

        XCTAssertThrowsError(try token.attributeValue(CKA_VALUE, of: key.privateHandle)) { error in
            XCTAssertEqual((error as? PKCS11Error)?.returnValueName, "CKR_ATTRIBUTE_SENSITIVE")
        }
        XCTAssertEqual(try token.attributeValue(CKA_SENSITIVE, of: key.privateHandle), [1])
        XCTAssertEqual(try token.attributeValue(CKA_EXTRACTABLE, of: key.privateHandle), [0])
        XCTAssertEqual(try token.attributeValue(CKA_ALWAYS_SENSITIVE, of: key.privateHandle), [1])
        XCTAssertEqual(try token.attributeValue(CKA_NEVER_EXTRACTABLE, of: key.privateHandle), [1])
        XCTAssertEqual(try token.attributeValue(CKA_TOKEN, of: key.privateHandle), [1])

        // And an independent tool sees the same flags.
        let listing = try fixture.listObjects()
        XCTAssertTrue(listing.contains("ca-sealed"), listing)
        XCTAssertTrue(listing.contains("sensitive"), listing)
        XCTAssertTrue(listing.contains("never extractable"), listing)
    }

    func testFindingAnAbsentKeyReturnsNil() throws {
        let token = try fixture.openToken()
        XCTAssertNil(try token.findEd25519Key(label: "no-such-key"))
        XCTAssertNil(try token.findAESKey(label: "no-such-key"))
    }

    func testHalfAKeyPairIsReported() throws {
        let token = try fixture.openToken()
        let key = try token.generateEd25519Key(label: "ca-half")
        try token.sessions.withSession { session throws(PKCS11Error) in
            try check(token.functions.pointee.C_DestroyObject(session, key.privateHandle), "C_DestroyObject")
        }
        XCTAssertThrowsError(try token.findEd25519Key(label: "ca-half")) { error in
            XCTAssertEqual((error as? PKCS11Error)?.code, .unexpectedObject)
        }
    }

    func testTwoKeysUnderOneLabelAreAmbiguous() throws {
        let token = try fixture.openToken()
        _ = try token.generateEd25519Key(label: "ca-twice")
        _ = try token.generateEd25519Key(label: "ca-twice")
        XCTAssertThrowsError(try token.findEd25519Key(label: "ca-twice")) { error in
            XCTAssertEqual((error as? PKCS11Error)?.code, .ambiguousLabel)
        }
    }

    // MARK: - AES-GCM

    func testAESGCMRoundTripAndTamperingFails() throws {
        let token = try fixture.openToken()
        let key = try token.generateAESKey(label: "kek")
        let plaintext = Array("a data-encryption key, 32 bytes.".utf8)
        let iv: [UInt8] = Array(0..<12)
        let aad = Array("recording 42".utf8)

        let sealed = try token.encryptGCM(plaintext, key: key, iv: iv, aad: aad)
        XCTAssertEqual(sealed.count, plaintext.count + 16)
        XCTAssertNotEqual(Array(sealed.prefix(plaintext.count)), plaintext)
        XCTAssertEqual(try token.decryptGCM(sealed, key: key, iv: iv, aad: aad), plaintext)

        let found = try XCTUnwrap(try token.findAESKey(label: "kek"))
        XCTAssertEqual(try token.decryptGCM(sealed, key: found, iv: iv, aad: aad), plaintext)

        XCTAssertThrowsError(try token.decryptGCM(sealed, key: key, iv: iv, aad: Array("recording 43".utf8))) { error in
            XCTAssertEqual((error as? PKCS11Error)?.code, .functionFailed)  // softhsm2 2.6: CKR_GENERAL_ERROR
        }
        var flipped = sealed
        flipped[3] ^= 0x01
        XCTAssertThrowsError(try token.decryptGCM(flipped, key: key, iv: iv, aad: aad))
        var otherIV = iv
        otherIV[11] ^= 0x01
        XCTAssertThrowsError(try token.decryptGCM(sealed, key: key, iv: otherIV, aad: aad))
        // A failed decryption must leave the pool usable.
        XCTAssertEqual(try token.decryptGCM(sealed, key: key, iv: iv, aad: aad), plaintext)

        XCTAssertEqual(try token.decryptGCM(try token.encryptGCM([], key: key, iv: iv, aad: []), key: key, iv: iv, aad: []), [])
        XCTAssertThrowsError(try token.encryptGCM(plaintext, key: key, iv: Array(0..<16), aad: aad)) { error in
            XCTAssertEqual((error as? PKCS11Error)?.code, .invalidArgument)
        }
    }

    func testAESKeyCannotBeRead() throws {
        let token = try fixture.openToken()
        let key = try token.generateAESKey(label: "kek-sealed")
        XCTAssertThrowsError(try token.attributeValue(CKA_VALUE, of: key.handle)) { error in
            XCTAssertEqual((error as? PKCS11Error)?.returnValueName, "CKR_ATTRIBUTE_SENSITIVE")
        }
        XCTAssertEqual(try token.attributeValue(CKA_EXTRACTABLE, of: key.handle), [0])
        XCTAssertEqual(try token.attributeValue(CKA_SENSITIVE, of: key.handle), [1])
        XCTAssertEqual(try token.attributeValue(CKA_VALUE_LEN, of: key.handle), withUnsafeBytes(of: CK_ULONG(32)) { Array($0) })
    }

    // MARK: - Errors

    func testMissingModuleIsReported() {
        XCTAssertThrowsError(try PKCS11Module(path: "/nonexistent/libpkcs11.so")) { error in
            let error = error as? PKCS11Error
            XCTAssertEqual(error?.code, .moduleNotLoadable)
            XCTAssertTrue(error?.description.hasPrefix("cannot load /nonexistent/libpkcs11.so: ") ?? false, "\(String(describing: error))")
        }
    }

    func testWrongPINIsReportedWithoutThePIN() throws {
        let wrongPIN = Array("987654".utf8)
        XCTAssertThrowsError(try fixture.openToken(pin: wrongPIN)) { error in
            let error = error as? PKCS11Error
            XCTAssertEqual(error?.description, "C_Login: CKR_PIN_INCORRECT")
            XCTAssertEqual(error?.returnValue, UInt(CKR_PIN_INCORRECT))
            XCTAssertFalse(error?.description.contains("987654") ?? true)
        }
        // The right PIN still works afterwards.
        XCTAssertNoThrow(try fixture.openToken())
    }

    func testUnknownTokenLabelListsTheTokensPresent() throws {
        let module = try PKCS11Module(path: SoftHSMFixture.modulePath)
        XCTAssertThrowsError(try PKCS11Token(module: module, label: "no-such-token", pin: SoftHSMFixture.userPIN)) { error in
            let error = error as? PKCS11Error
            XCTAssertEqual(error?.code, .tokenNotFound)
            XCTAssertEqual(error?.description, "no token labelled \"no-such-token\" (tokens present: bastion-test)")
        }
    }

    func testReturnValueNames() {
        XCTAssertEqual(returnValueName(CK_RV(CKR_PIN_INCORRECT)), "CKR_PIN_INCORRECT")
        XCTAssertEqual(returnValueName(CK_RV(CKR_OK)), "CKR_OK")
        XCTAssertEqual(returnValueName(0x8000_0012), "CKR_VENDOR_DEFINED+0x12")
        XCTAssertEqual(returnValueName(0x7777), "CKR_0x7777")
    }

    func testEdwardsPointDecoding() {
        let raw = [UInt8](repeating: 7, count: 32)
        XCTAssertEqual(ed25519PublicKey(fromECPoint: [0x04, 0x20] + raw), raw)
        XCTAssertEqual(ed25519PublicKey(fromECPoint: raw), raw)
        XCTAssertNil(ed25519PublicKey(fromECPoint: [0x04, 0x21] + raw + [0]))
        XCTAssertNil(ed25519PublicKey(fromECPoint: [0x04, 0x39] + [UInt8](repeating: 1, count: 57)))
    }

    // MARK: - Lifecycle

    func testTwoTokensOnOneSlotShareTheLoginAndOutliveEachOther() throws {
        let module = try PKCS11Module(path: SoftHSMFixture.modulePath)
        XCTAssertTrue(try module.info().manufacturer.contains("SoftHSM"))
        let message = Array("shared login".utf8)
        var first: PKCS11Token? = try PKCS11Token(module: module, label: SoftHSMFixture.tokenLabel, pin: SoftHSMFixture.userPIN)
        let key = try XCTUnwrap(first).generateEd25519Key(label: "ca-shared")
        let second = try PKCS11Token(module: module, label: SoftHSMFixture.tokenLabel, pin: SoftHSMFixture.userPIN)
        first = nil  // closes the first token's sessions; the second's keep the process logged in
        XCTAssertNil(first)
        let signature = try second.sign(message, with: key)
        XCTAssertTrue(try fixture.opensslVerifies(signature: signature, message: message, publicKey: key.publicKey))
    }

    func testDestroyObjectsRemovesTheKey() throws {
        let token = try fixture.openToken()
        _ = try token.generateEd25519Key(label: "retired")
        _ = try token.generateAESKey(label: "retired")
        _ = try token.generateEd25519Key(label: "kept")
        try token.destroyObjects(label: "retired")
        XCTAssertNil(try token.findEd25519Key(label: "retired"))
        XCTAssertNil(try token.findAESKey(label: "retired"))
        XCTAssertNotNil(try token.findEd25519Key(label: "kept"))
        XCTAssertFalse(try fixture.listObjects().contains("retired"))
    }

    // MARK: - Concurrency

    func testManyThreadsSignConcurrently() throws {
        let token = try fixture.openToken(maxSessions: 4)  // fewer sessions than threads: callers wait
        let key = try token.generateEd25519Key(label: "ca-busy")
        let threads = 8, perThread = 200
        let signatures = Mutex<[[[UInt8]]]>(Array(repeating: [], count: threads))
        let failures = Mutex<[String]>([])

        let done = DispatchGroup()
        for thread in 0..<threads {
            done.enter()
            Thread {
                defer { done.leave() }
                var mine: [[UInt8]] = []
                for index in 0..<perThread {
                    do { mine.append(try token.sign(Array("message \(index)".utf8), with: key)) }
                    catch { failures.withLock { $0.append("\(error)") }; return }
                }
                signatures.withLock { $0[thread] = mine }
            }.start()
        }
        done.wait()

        XCTAssertEqual(failures.withLock { $0 }, [])
        let all = signatures.withLock { $0 }
        // Ed25519 is deterministic: every thread must have produced the same signature per message.
        for thread in 1..<threads { XCTAssertEqual(all[thread], all[0], "thread \(thread) differs") }
        XCTAssertEqual(all[0].count, perThread)
        XCTAssertLessThanOrEqual(token.sessions.openCount, 4)
        for index in stride(from: 0, to: perThread, by: 25) {
            XCTAssertTrue(try fixture.opensslVerifies(signature: all[0][index], message: Array("message \(index)".utf8), publicKey: key.publicKey))
        }
    }

    /// Not an assertion (machines differ): prints the rate for the report and the bastion's
    /// sizing (goal: at least 2,000 certificate signatures per second through softhsm2).
    func testMeasureSigningThroughput() throws {
        let token = try fixture.openToken()
        let key = try token.generateEd25519Key(label: "ca-bench")
        let message = [UInt8](repeating: 0x5a, count: 300)  // about the size of an SSH certificate's signed part
        _ = try token.sign(message, with: key)

        for threads in [1, 4] {
            let perThread = 4000 / threads
            let start = DispatchTime.now()
            let done = DispatchGroup()
            let failed = Mutex(false)
            for _ in 0..<threads {
                done.enter()
                Thread {
                    defer { done.leave() }
                    for _ in 0..<perThread where (try? token.sign(message, with: key)) == nil {
                        failed.withLock { $0 = true }
                    }
                }.start()
            }
            done.wait()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            XCTAssertFalse(failed.withLock { $0 })
            print("pkcs11 ed25519 signs/s: \(Int(Double(threads * perThread) / seconds)) (\(threads) thread\(threads == 1 ? "" : "s"), softhsm2)")
        }
    }
}
