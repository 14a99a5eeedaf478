import BastionApp
import Testing

@Suite("Configuration: sessions.notify_watchers")
struct WatchConfigurationTests {
    @Test("defaults to true; false is read; anything but a bool is refused with the key named")
    func notifyWatchers() throws {
        #expect(BastionConfiguration.defaults.sessions.notifyWatchers)
        #expect(try BastionConfiguration.parse("[sessions]\nidle_timeout = \"5m\"\n", file: "a.toml").sessions.notifyWatchers)
        #expect(try !BastionConfiguration.parse("[sessions]\nnotify_watchers = false\n", file: "b.toml").sessions.notifyWatchers)
        #expect {
            try BastionConfiguration.parse("[sessions]\nnotify_watchers = \"no\"\n", file: "c.toml")
        } throws: { error in
            "\(error)".contains("notify_watchers")
        }
    }
}
