import Foundation

/// The printed result: three lines a reader compares at a glance, bastiond next to sshd.
///
/// Ratios are bastiond/sshd, so above 1x means faster for logins/s and costlier for CPU.
enum ReportTable {
    static func render(
        certificates: CertificateBenchmark.Result, options: BenchOptions,
        bastiond: LoginLoad.Measurement, sshd: LoginLoad.Measurement
    ) -> String {
        let loginsLabel = "logins (\(options.logins), \(options.concurrency) concurrent)"
        let kex = options.kex.map { "\($0), both sides" } ?? "OpenSSH client's default list (servers may pick different ones)"
        let token = certificates.tokenSignedPerSecond.map {
            "CA key in softhsm2 (pkcs11): \(rate($0.one))/s one thread, \(rate($0.four))/s four threads"
                + ($0.one >= 2_000 ? "  [goal >= 2,000/s: met]" : "  [goal >= 2,000/s: MISSED]")
        } ?? "pkcs11: softhsm2 not installed"
        return [
            row("certificates (in-process)",
                "sign only: \(rate(certificates.signedPerSecond))/s   issue+ledger+audit: \(rate(certificates.issuedPerSecond))/s"),
            row("certificates, file vs pkcs11", "file: \(rate(certificates.signedPerSecond))/s   " + token),
            row(loginsLabel, "bastiond: \(side(bastiond))   sshd: \(side(sshd))"),
            row("ratio bastiond/sshd",
                "logins/s \(ratio(bastiond.loginsPerSecond, sshd.loginsPerSecond))   "
                    + "CPU s/login \(ratio(bastiond.cpuSecondsPerLogin, sshd.cpuSecondsPerLogin))"),
            row("failed logins", "bastiond: \(bastiond.failures)   sshd: \(sshd.failures)"),
            row("key exchange", kex),
        ].joined(separator: "\n")
    }

    private static func side(_ measurement: LoginLoad.Measurement) -> String {
        String(format: "%.1f/s  %.4f CPU s/login", measurement.loginsPerSecond, measurement.cpuSecondsPerLogin)
    }

    private static func row(_ label: String, _ value: String) -> String {
        label.padding(toLength: max(34, label.count + 2), withPad: " ", startingAt: 0) + value
    }

    private static func rate(_ value: Double) -> String { String(format: "%.0f", value) }

    private static func ratio(_ value: Double, _ reference: Double) -> String {
        reference > 0 ? String(format: "%.2fx", value / reference) : "n/a"
    }
}
