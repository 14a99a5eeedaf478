import Foundation

/// The text of `targets`: what the user may reach, with logins, one target a line.
public struct TargetsReport: Sendable {
    public var reachable: [(target: TargetDefinition, logins: [String])]

    public init(reachable: [(target: TargetDefinition, logins: [String])]) {
        self.reachable = reachable
    }

    public var text: String {
        guard !reachable.isEmpty else { return "no targets: none of your roles grants a target\n" }
        let width = max(6, reachable.map(\.target.name.count).max() ?? 0) + 2
        var lines = ["TARGET".padding(toLength: width, withPad: " ", startingAt: 0) + "LOGINS" + String(repeating: " ", count: 18) + "LABELS"]
        for (target, logins) in reachable {
            let labels = target.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            lines.append(
                target.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    + logins.joined(separator: ",").padding(toLength: 24, withPad: " ", startingAt: 0) + labels
            )
        }
        if reachable.contains(where: { $0.logins.contains { $0.hasSuffix("*") } }) {
            lines.append("* needs a grant a second engineer approves: elevate TARGET --login LOGIN --reason TEXT")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
