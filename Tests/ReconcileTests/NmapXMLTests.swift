import Foundation
import HostModel
import Testing
@testable import Reconcile

/// The nmap XML reader on real nmap 7.93 reports (taken between two test namespaces, documentation addresses) and on
/// small broken ones written here.
@Suite struct NmapXMLTests {
    static func fixture(_ name: String) throws -> NmapScan {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures resource missing")
        return try NmapXML.parse(try Data(contentsOf: dir.appendingPathComponent(name + ".xml")), file: name + ".xml")
    }

    static func states(_ host: NmapHost) -> [String: String] {
        Dictionary(uniqueKeysWithValues: host.ports.map { ("\($0.port)/\($0.proto.rawValue)", $0.state.rawValue) })
    }

    func parse(_ text: String) -> NmapParseError? {
        do { _ = try NmapXML.parse(Data(text.utf8), file: "scan.xml"); return nil } catch { return error }
    }

    @Test func connectScanListsEveryPortWithItsStateAndReason() throws {
        let scan = try Self.fixture("connect-tcp")
        #expect(scan.techniques == [.tcp: .connect])
        #expect(scan.args == "nmap -Pn -n -oX - -sT -p 22-27 192.0.2.1")
        let host = try #require(scan.hosts.first)
        #expect(scan.hosts.count == 1)
        #expect(host.addresses == ["192.0.2.1"])
        #expect(host.status == "up")
        #expect(
            Self.states(host) == [
                "22/tcp": "open", "23/tcp": "closed", "24/tcp": "filtered", "25/tcp": "closed",
                "26/tcp": "closed", "27/tcp": "filtered"
            ])
        #expect(host.ports.first { $0.port == 26 }?.reason == "conn-refused")
    }

    @Test func synScanIsRecordedAsSuch() throws {
        let scan = try Self.fixture("syn-tcp")
        #expect(scan.techniques == [.tcp: .syn])
        let host = try #require(scan.hosts.first)
        #expect(host.ports.first { $0.port == 26 }.map { "\($0.state.rawValue) \($0.reason ?? "")" } == "filtered port-unreach")
    }

    @Test func udpScanSkipsTheHostHintAndMACAddresses() throws {
        let scan = try Self.fixture("udp")
        #expect(scan.techniques == [.udp: .udp])
        #expect(scan.hosts.count == 1)
        let host = try #require(scan.hosts.first)
        #expect(host.addresses == ["192.0.2.1"])
        #expect(Self.states(host) == ["53/udp": "open|filtered", "54/udp": "closed", "55/udp": "closed", "56/udp": "open|filtered"])
    }

    @Test func extraportsWithPortListsFillBothProtocols() throws {
        let scan = try Self.fixture("v6-tcp-udp-extraports")
        #expect(scan.techniques == [.tcp: .connect, .udp: .udp])
        let host = try #require(scan.hosts.first)
        #expect(host.addresses == ["2001:db8::1"])
        #expect(host.ports.count == 31 + 8)
        let s = Self.states(host)
        #expect(s["22/tcp"] == "open")
        #expect(s["24/tcp"] == "filtered")
        #expect(s["20/tcp"] == "closed")
        #expect(s["50/tcp"] == "closed")
        #expect(s["56/udp"] == "open|filtered")
        #expect(s["57/udp"] == "closed")
        #expect(host.ports.first { $0.port == 57 && $0.proto == .udp }?.reason == "port-unreach")
        #expect(s["51/tcp"] == nil)  // only 20-50 were scanned over TCP
    }

    @Test func oneExtraportsGroupWithoutListsTakesTheUnlistedPorts() throws {
        let host = try #require(try Self.fixture("extraports-without-port-lists").hosts.first)
        #expect(host.ports.count == 60)
        let s = Self.states(host)
        #expect(s["22/tcp"] == "open")
        #expect(s["24/tcp"] == "filtered")
        #expect(s.filter { $0.value == "closed" }.count == 58)
    }

    @Test func portListsExpandRanges() {
        #expect(PortList.parse("1-3,22,80") == [1, 2, 3, 22, 80])
        #expect(PortList.parse("65535") == [65535])
        #expect(PortList.parse("3-1") == nil)
        #expect(PortList.parse("22,") == nil)
        #expect(PortList.parse("T:22") == nil)
        #expect(PortList.parse("65536") == nil)
    }

    // MARK: errors name the file, line and column

    static let head = "<?xml version=\"1.0\"?>\n<nmaprun args=\"nmap\">\n"

    @Test func malformedXMLIsAnErrorWithAPosition() throws {
        let e = try #require(parse(Self.head + "<scaninfo type=\"connect\" protocol=\"tcp\" services=\"22\"/>\n<host>\n</nmaprun>\n"))
        #expect(e.file == "scan.xml")
        #expect(e.line >= 4)
        #expect(e.column > 0)
        #expect(e.message.hasPrefix("not well-formed XML"))
        #expect(e.description.hasPrefix("scan.xml:\(e.line):\(e.column): "))
    }

    @Test func anotherXMLDocumentIsRefused() throws {
        let e = try #require(parse("<?xml version=\"1.0\"?>\n<report>\n</report>\n"))
        #expect(e.line == 2)
        #expect(e.message.contains("not an nmap XML report"))
        #expect(e.message.contains("<report>"))
        #expect(parse("")?.message != nil)
    }

    @Test func unsupportedScanTypesAndProtocolsAreRefusedAtTheirLine() throws {
        let ack = try #require(parse(Self.head + "<verbose level=\"0\"/>\n<scaninfo type=\"ack\" protocol=\"tcp\" services=\"22\"/>\n</nmaprun>\n"))
        #expect(ack.line == 4)
        #expect(ack.message.contains("scan type 'ack' is not supported"))
        let sctp = try #require(parse(Self.head + "<scaninfo type=\"sctpinit\" protocol=\"sctp\" services=\"22\"/>\n</nmaprun>\n"))
        #expect(sctp.line == 3)
        #expect(sctp.message.contains("protocol 'sctp'"))
        let mixed = try #require(parse(Self.head + "<scaninfo type=\"udp\" protocol=\"tcp\" services=\"22\"/>\n</nmaprun>\n"))
        #expect(mixed.message.contains("scan type 'udp'"))
    }

    @Test func aReportWithoutScanInfoIsRefused() throws {
        let e = try #require(parse(Self.head + "</nmaprun>\n"))
        #expect(e.message.contains("no <scaninfo>"))
    }

    @Test func portsThatDoNotAddUpAreRefused() throws {
        let info = "<scaninfo type=\"connect\" protocol=\"tcp\" services=\"20-23\"/>\n"
        let host = "<host><status state=\"up\"/><address addr=\"192.0.2.1\" addrtype=\"ipv4\"/>\n<ports>"
        let port22 = "<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\"/></port>\n"
        let missing = try #require(parse(Self.head + info + host + port22 + "</ports></host>\n</nmaprun>\n"))
        #expect(missing.message.contains("port 20/tcp was scanned but the report gives it no state (3 such port(s))"))
        let count = try #require(
            parse(
                Self.head + info + host + port22 + "<extraports state=\"closed\" count=\"2\">\n"
                    + "<extrareasons reason=\"conn-refused\" count=\"2\"/></extraports>\n</ports></host>\n</nmaprun>\n"))
        #expect(count.message.contains("extraports count 2 does not match the 3 scanned ports not listed"))
        #expect(count.line == 6)
        let state = try #require(parse(Self.head + info + host + "<port protocol=\"tcp\" portid=\"22\"><state state=\"half-open\"/></port>"))
        #expect(state.message.contains("unknown port state 'half-open'"))
        #expect(state.line == 5)
        let twice = try #require(parse(Self.head + info + host + port22 + port22 + "</ports></host>\n</nmaprun>\n"))
        #expect(twice.message.contains("port 22/tcp is listed twice"))
    }

    @Test func aHostThatIsDownHasNoPorts() throws {
        let scan = try NmapXML.parse(
            Data(
                (Self.head + "<scaninfo type=\"syn\" protocol=\"tcp\" services=\"22\"/>\n"
                    + "<host><status state=\"down\" reason=\"no-response\"/><address addr=\"192.0.2.9\" addrtype=\"ipv4\"/></host>\n"
                    + "</nmaprun>\n").utf8), file: "down.xml")
        #expect(scan.hosts == [NmapHost(addresses: ["192.0.2.9"], status: "down", ports: [])])
    }
}
