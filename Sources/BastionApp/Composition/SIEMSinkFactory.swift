import BastionCore
import BastionDelivery
import BastionSIEM
import Foundation

/// Builds the sinks `[[siem.sinks]]` describes.
enum SIEMSinkFactory {
    static func make(_ sink: SIEMConfiguration.Sink) throws -> any SIEMSink {
        let format = EventFormat(rawValue: sink.format.rawValue) ?? .json
        let accepts: @Sendable (String) -> Bool = { [sink] in sink.accepts($0) }
        switch sink.kind {
        case .syslog(let host, let port, let tls):
            let sender = SyslogSender(
                endpoint: SyslogEndpoint(host: host, port: port),
                tls: tls.map { TLSClientConfiguration(caFile: $0.caFile ?? "", certificateFile: $0.certificateFile, privateKeyFile: $0.keyFile) }
            )
            return SyslogSink(name: sink.name, sender: sender, encoder: try SyslogEventEncoder(format: format), accepts: accepts)
        case .file(let path, let rotateBytes, let keep):
            let formatter = format.formatter()
            return FileSink(name: sink.name, path: path, rotateBytes: rotateBytes, keep: keep, accepts: accepts) { record in
                String(decoding: formatter.format(record.event, id: EventID(seq: record.seq, text: record.eventID)), as: UTF8.self)
            }
        case .http(let url, let token):
            return HTTPSink(name: sink.name, url: url, token: token, format: format, accepts: accepts)
        }
    }
}
