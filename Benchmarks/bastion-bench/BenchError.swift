/// Why a benchmark run could not produce its numbers; printed as `bastion-bench: MESSAGE`.
///
/// A setup step failing (a daemon that never listens, a certificate that never arrives)
/// stops the run: numbers measured against a half-working target would be meaningless.
struct BenchError: Error, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}
