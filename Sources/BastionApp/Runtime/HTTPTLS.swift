import BastionCrypto
import BastionHTTP

/// `[http]`'s TLS files turned into the listener's credentials, at start and on SIGHUP, with
/// failures worded as configuration errors naming the key (`http.tls_key: private key
/// /etc/bastion/http.key: does not match the certificate …`).
enum HTTPTLS {
    /// The credentials `http` asks for; nil for plain HTTP.
    static func credentials(_ http: BastionConfiguration.HTTPConfiguration, file: String?) throws(ConfigurationError) -> TLSServerCredentials? {
        guard let tls = http.tls else { return nil }
        do {
            return try TLSServerCredentials(files(tls))
        } catch {
            throw configurationError(error, file: file)
        }
    }

    /// Re-reads the files of `next` into `credentials` (see ``ReloadPlan/reloadsTLS``); the
    /// returned closure swaps the new context in. Throws, changing nothing, when a file
    /// cannot be used: the reload is refused and the running certificate stays.
    static func prepareReload(
        _ credentials: TLSServerCredentials?, next: BastionConfiguration, plan: ReloadPlan, file: String
    ) throws(ConfigurationError) -> @Sendable () -> Void {
        guard plan.reloadsTLS, let credentials, let tls = next.http.tls else { return {} }
        do {
            return try credentials.prepareReload(files(tls))
        } catch {
            throw configurationError(error, file: file)
        }
    }

    private static func files(_ tls: BastionConfiguration.HTTPConfiguration.TLSFiles) -> TLSServerCredentials.Files {
        TLSServerCredentials.Files(certificate: tls.certificate, key: tls.key, clientCA: tls.clientCA, minimumVersion: tls.minimumVersion)
    }

    /// ``TLSContext`` names the file it could not use first: that names the key.
    private static func configurationError(_ error: CryptoError, file: String?) -> ConfigurationError {
        let reason = error.reason
        let key =
            if reason.hasPrefix("private key ") { "http.tls_key" } else if reason.hasPrefix("client CA") { "http.client_ca" } else { "http.tls_cert" }
        return ConfigurationError(file: file ?? "(configuration)", line: nil, key: key, reason: reason)
    }
}
