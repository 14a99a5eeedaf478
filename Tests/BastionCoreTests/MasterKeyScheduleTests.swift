import BastionCore
import Foundation
import Testing

@Suite("Master key schedule")
struct MasterKeyScheduleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    @Test("rotation is due at rotate_every; a rotation makes the next version current and the old one decrypt-only")
    func rotation() {
        var schedule = MasterKeySchedule(firstCreated: start)
        #expect(!schedule.rotationDue(now: start.addingTimeInterval(89 * day), every: 90 * day))
        #expect(schedule.rotationDue(now: start.addingTimeInterval(90 * day), every: 90 * day))
        let next = schedule.rotate(now: start.addingTimeInterval(90 * day))
        #expect(next == 2)
        #expect(schedule.current.version == 2)
        #expect(schedule.versions.map(\.state) == [.decryptOnly, .active])
        #expect(!schedule.rotationDue(now: start.addingTimeInterval(91 * day), every: 90 * day))
    }

    @Test("a version is destroyed only past retire_after and only when nothing references it; numbers are never reused")
    func retirement() {
        var schedule = MasterKeySchedule(firstCreated: start)
        let rotatedAt = start.addingTimeInterval(90 * day)
        _ = schedule.rotate(now: rotatedAt)
        let year = 365 * day
        #expect(schedule.destroyable(now: rotatedAt.addingTimeInterval(year - 1), retireAfter: year, references: [:]).isEmpty)
        #expect(schedule.destroyable(now: rotatedAt.addingTimeInterval(year), retireAfter: year, references: [1: 3]).isEmpty)
        #expect(schedule.overdue(now: rotatedAt.addingTimeInterval(year), retireAfter: year, references: [1: 3]) == [1])
        #expect(schedule.destroyable(now: rotatedAt.addingTimeInterval(year), retireAfter: year, references: [2: 5]) == [1])
        schedule.markDestroyed(1, at: rotatedAt.addingTimeInterval(year))
        #expect(schedule.usable.map(\.version) == [2])
        #expect(schedule.rotate(now: rotatedAt.addingTimeInterval(year)) == 3)
        // The current version is never destroyable, whatever its age.
        #expect(schedule.destroyable(now: .distantFuture, retireAfter: 1, references: [:]) == [2])
    }
}
