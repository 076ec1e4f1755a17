import Foundation
import HostModel
import Policy
import Checks
import Testing
@testable import Reporting
import Serialization

/// With `--ruleset FILE`, a finding names FILE:LINE of its rule in text and JSON too, not only in SARIF.
@Suite struct RulesetLocationTests {
    func report() throws -> Report {
        var result = try sampleResult()
        let i = try #require(result.findings.firstIndex { $0.ruleId == "PW1006" })
        result.findings[i].rulesetLocation = SourceLocation(file: "/base/conf/nftables.conf", line: 6, column: 3)
        let j = try #require(result.findings.firstIndex { $0.ruleId == "PW1020" })
        result.findings[j].rulesetLocation = SourceLocation(file: "conf/nftables.conf", line: 7, column: 3)
        return Report(result: result, toolVersion: "9.9.9-test", baseDirectory: "/base")
    }

    @Test func textNamesTheFileAndLine() throws {
        let text = TextReporter().render(try report())
        #expect(text.contains("  PW1006 sensitive-service-exposed  tcp 0.0.0.0:6379\n"))
        #expect(text.components(separatedBy: "    ruleset: conf/nftables.conf:6:3\n").count == 2, "\(text)")
        // A candidate rule is named by its line, not by the throwaway namespace's handle.
        #expect(text.contains("  PW1020 broad-accept  inet filter input at conf/nftables.conf:7\n"), "\(text)")
    }

    @Test func jsonCarriesItAndStaysValid() throws {
        let json = try JSONReporter().render(try report())
        let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let findings = (doc?["findings"] as? [[String: Any]]) ?? []
        let located = findings.filter { $0["rulesetLocation"] != nil }
        #expect(located.count == 2)
        let pg = located.first { $0["ruleId"] as? String == "PW1006" }
        let loc = pg?["rulesetLocation"] as? [String: Any]
        #expect(loc?["file"] as? String == "conf/nftables.conf")
        #expect(loc?["line"] as? Int == 6)
        // The JSON contract lists the field (additionalProperties is false).
        let file = try tempFile("located.json", json)
        defer { try? FileManager.default.removeItem(at: file) }
        let schema = repoRoot.appendingPathComponent("schemas/findings-1.schema.json").path
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))
            for e in errors: print(list(e.absolute_path), e.message)
            sys.exit(1 if errors else 0)
            """
        let (status, out) = try run(["python3", "-c", script, schema, file.path])
        if out.contains("No module named 'jsonschema'") {
            let props =
                (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: schema))) as? [String: Any])
                .flatMap { ($0["$defs"] as? [String: Any])?["finding"] as? [String: Any] }?["properties"] as? [String: Any]
            #expect(props?["rulesetLocation"] != nil)
            return
        }
        #expect(status == 0, "\(out)")
    }
}
