import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import HostModel

/// Reads nmap's XML output (`nmap -oX`) into an `NmapScan`: the scanned ports per protocol from `<scaninfo>`, and per
/// `<host>` its addresses and every scanned port's state, listed ports and `extraports` groups alike.
public enum NmapXML {
    /// Parses a report; `file` names it in errors. External entities are never resolved.
    public static func parse(_ data: Data, file: String) throws(NmapParseError) -> NmapScan {
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        let reader = NmapReader(file: file)
        parser.delegate = reader
        let ok = parser.parse()
        if let failure = reader.failure { throw failure }
        guard ok else {
            let why = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "not well-formed XML"
            throw NmapParseError(file: file, line: parser.lineNumber, column: parser.columnNumber, message: "not well-formed XML: \(why)")
        }
        if let open = reader.open.last {
            // libxml2 recovers from some errors without telling XMLParser, so the nesting is checked here too.
            throw NmapParseError(
                file: file, line: parser.lineNumber, column: parser.columnNumber,
                message: "not well-formed XML: the document ends inside <\(TerminalText.escape(open))>")
        }
        guard reader.sawRoot else {
            throw NmapParseError(file: file, line: parser.lineNumber, column: parser.columnNumber, message: "not an nmap XML report (no <nmaprun>)")
        }
        guard !reader.services.isEmpty else {
            throw NmapParseError(
                file: file, line: parser.lineNumber, column: parser.columnNumber,
                message: "the report has no <scaninfo>: it does not say which ports were scanned")
        }
        return NmapScan(techniques: reader.techniques, hosts: reader.hosts, args: reader.args)
    }
}

/// Text from the report, escaped for messages (a report may come from anyone).
private func q(_ s: String?) -> String { TerminalText.escape(s ?? "") }

/// The XMLParser delegate: collects elements as they come and stops at the first problem with its position.
private final class NmapReader: NSObject, XMLParserDelegate {
    let file: String
    var failure: NmapParseError?
    var sawRoot = false
    var args: String?
    var techniques: [L4Proto: ScanTechnique] = [:]
    var services: [L4Proto: [UInt16]] = [:]
    var hosts: [NmapHost] = []
    /// The elements open at this point, innermost last.
    var open: [String] = []
    private var host: HostBuilder?
    private var port: (proto: L4Proto, port: UInt16)?
    private var extra: HostBuilder.Extra?
    /// Depth inside `<hosthint>` (a preliminary copy of a host's addresses, not a result).
    private var hintDepth = 0

    init(file: String) { self.file = file }

    private func fail(_ parser: XMLParser, _ message: String) {
        guard failure == nil else { return }
        failure = NmapParseError(file: file, line: parser.lineNumber, column: parser.columnNumber, message: message)
        parser.abortParsing()
    }

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes a: [String: String] = [:]
    ) {
        guard failure == nil else { return }
        open.append(name)
        if !sawRoot {
            guard name == "nmaprun" else { return fail(parser, "not an nmap XML report (the root element is <\(q(name))>, not <nmaprun>)") }
            sawRoot = true
            args = a["args"]
            return
        }
        if name == "hosthint" { hintDepth += 1 }
        if hintDepth > 0 { return }
        switch name {
        case "scaninfo": scanInfo(parser, a)
        case "host": host = HostBuilder()
        case "status" where host != nil && port == nil: host?.status = a["state"] ?? "unknown"
        case "address" where host != nil:
            if let addr = a["addr"], a["addrtype"] == "ipv4" || a["addrtype"] == "ipv6" { host?.addresses.append(addr) }
        case "port" where host != nil: startPort(parser, a)
        case "state" where port != nil: portState(parser, a)
        case "extraports" where host != nil: startExtra(parser, a)
        case "extrareasons" where extra != nil: extraReason(parser, a)
        default: break
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        guard failure == nil else { return }
        guard open.last == name else {
            return fail(parser, "not well-formed XML: </\(q(name))> closes <\(q(open.last ?? "nothing"))>")
        }
        open.removeLast()
        if name == "hosthint" { hintDepth -= 1; return }
        if hintDepth > 0 { return }
        switch name {
        case "port": port = nil
        case "extraports":
            if let extra { host?.extras.append(extra) }
            extra = nil
        case "host":
            guard let built = host else { return }
            host = nil
            do {
                hosts.append(try built.finish(services: services))
            } catch {
                failure = NmapParseError(
                    file: file, line: error.line ?? parser.lineNumber, column: error.column ?? parser.columnNumber,
                    message: error.message)
                parser.abortParsing()
            }
        default: break
        }
    }

    private func scanInfo(_ parser: XMLParser, _ a: [String: String]) {
        let protoText = a["protocol"] ?? ""
        guard let proto = L4Proto(rawValue: protoText) else {
            return fail(parser, "protocol '\(q(protoText))' is not supported: only tcp and udp scans are compared")
        }
        let typeText = a["type"] ?? ""
        guard let type = ScanTechnique(rawValue: typeText), (type == .udp) == (proto == .udp) else {
            return fail(parser, "scan type '\(q(typeText))' is not supported: give a connect (-sT), SYN (-sS) or UDP (-sU) scan")
        }
        guard techniques[proto] == nil else { return fail(parser, "a second <scaninfo> for \(proto.rawValue)") }
        guard let list = PortList.parse(a["services"] ?? "") else {
            return fail(parser, "<scaninfo services=\"\(q(a["services"]))\"> is not a list of ports")
        }
        techniques[proto] = type
        services[proto] = list
    }

    private func startPort(_ parser: XMLParser, _ a: [String: String]) {
        guard let proto = L4Proto(rawValue: a["protocol"] ?? "") else {
            return fail(parser, "port protocol '\(q(a["protocol"]))' is not tcp or udp")
        }
        guard let number = UInt16(a["portid"] ?? "") else { return fail(parser, "portid '\(q(a["portid"]))' is not a port number") }
        port = (proto, number)
    }

    private func portState(_ parser: XMLParser, _ a: [String: String]) {
        guard let (proto, number) = port else { return }
        guard let state = NmapState(rawValue: a["state"] ?? "") else { return fail(parser, "unknown port state '\(q(a["state"]))'") }
        guard host?.listed[HostBuilder.Key(proto: proto, port: number)] == nil else {
            return fail(parser, "port \(number)/\(proto.rawValue) is listed twice")
        }
        host?.listed[HostBuilder.Key(proto: proto, port: number)] = NmapPort(proto: proto, port: number, state: state, reason: a["reason"])
    }

    private func startExtra(_ parser: XMLParser, _ a: [String: String]) {
        guard let state = NmapState(rawValue: a["state"] ?? "") else { return fail(parser, "unknown extraports state '\(q(a["state"]))'") }
        guard let count = Int(a["count"] ?? "") else { return fail(parser, "extraports count '\(q(a["count"]))' is not a number") }
        extra = HostBuilder.Extra(state: state, count: count, line: parser.lineNumber, column: parser.columnNumber)
    }

    private func extraReason(_ parser: XMLParser, _ a: [String: String]) {
        guard let list = a["ports"] else { extra?.unlisted = true; return }
        guard let proto = L4Proto(rawValue: a["proto"] ?? ""), let ports = PortList.parse(list) else {
            return fail(parser, "<extrareasons proto=\"\(q(a["proto"]))\" ports=\"\(q(list))\"> is not a tcp or udp port list")
        }
        guard let state = extra?.state else { return }
        extra?.ports.append(contentsOf: ports.map { NmapPort(proto: proto, port: $0, state: state, reason: a["reason"]) })
    }
}
