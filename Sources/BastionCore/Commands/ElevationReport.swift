import Foundation

/// The text of `requests`: one request a line, newest first.
struct ElevationReport {
    var requests: [ElevationRequest]
    var pending: Bool
    var now: Date

    var text: String {
        guard !requests.isEmpty else { return pending ? "no pending requests you may decide\n" : "no requests\n" }
        var lines = ["ID        STATE      TARGET        LOGIN     FOR     \(pending ? "REQUESTER " : "APPROVERS ") REASON"]
        for request in requests {
            let state = request.state == .active && !request.isActive(at: now) ? "ended" : request.state.rawValue
            let who = pending ? request.requester : (request.approvers.isEmpty ? "-" : request.approvers.joined(separator: ","))
            lines.append(
                [
                    request.id.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0),
                    state.padding(toLength: 11, withPad: " ", startingAt: 0),
                    request.target.padding(toLength: 14, withPad: " ", startingAt: 0),
                    request.login.padding(toLength: 10, withPad: " ", startingAt: 0),
                    DurationText.format(request.duration).padding(toLength: 8, withPad: " ", startingAt: 0),
                    who.padding(toLength: 11, withPad: " ", startingAt: 0),
                    String(request.reason.prefix(60)),
                ].joined()
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
