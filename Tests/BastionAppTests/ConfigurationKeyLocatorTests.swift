@testable import BastionApp
import Testing

@Suite("TOMLKeyLocator")
struct ConfigurationKeyLocatorTests {
    let text = """
        # comment with key = "value"
        top = 1
        [auth]
        max_failures = 5 # trailing
        note = \"\"\"
        fake = 1
        [fake]
        \"\"\"
        lockout = "15m"

        [roles.engineer]
        targets = [
          "web*",   # comment ]
          "db*",
        ]
        logins = ["deploy"]
        [targets."web.01"]
        labels = { env = "prod", nested = { team = "a" } }
        a.b.c = 'x = y'
        [[array]]
        item = 1
        [[array]]
        item = 2
        """

    @Test func findsKeysUnderHeaders() {
        let locator = TOMLKeyLocator(text)
        #expect(locator.line(of: ["top"]) == 2)
        #expect(locator.line(of: ["auth"]) == 3)
        #expect(locator.line(of: ["auth", "max_failures"]) == 4)
        #expect(locator.line(of: ["auth", "lockout"]) == 9)
        #expect(locator.line(of: ["roles"]) == 11)
        #expect(locator.line(of: ["roles", "engineer", "targets"]) == 12)
        #expect(locator.line(of: ["roles", "engineer", "logins"]) == 16)
        #expect(locator.line(of: ["array"]) == 20)
        #expect(locator.line(of: ["array[0]", "item"]) == 21)
        #expect(locator.line(of: ["array[1]"]) == 22, "each [[array]] element is its own table")
        #expect(locator.line(of: ["array[1]", "item"]) == 23)
    }

    @Test func skipsStringsAndComments() {
        let locator = TOMLKeyLocator(text)
        #expect(locator.line(of: ["fake"]) == nil)
        #expect(locator.line(of: ["auth", "fake"]) == 3)  // falls back to the table's header
        #expect(locator.line(of: ["key"]) == nil)
    }

    @Test func inlineTablesQuotedAndDottedKeys() {
        let locator = TOMLKeyLocator(text)
        #expect(locator.line(of: ["targets", "web.01"]) == 17)
        #expect(locator.line(of: ["targets", "web.01", "labels", "env"]) == 18)
        #expect(locator.line(of: ["targets", "web.01", "labels", "nested", "team"]) == 18)
        #expect(locator.line(of: ["targets", "web.01", "a", "b", "c"]) == 19)
    }

    @Test func missingKeyFallsBackToItsTable() {
        let locator = TOMLKeyLocator(text)
        #expect(locator.line(of: ["roles", "engineer", "max_cert_ttl"]) == 11)
        #expect(locator.line(of: ["nowhere", "x"]) == nil)
    }
}
