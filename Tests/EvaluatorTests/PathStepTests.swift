import Foundation
import HostModel
import Testing
@testable import Evaluator

/// Path steps are typed for checks and keep their JSON words: each action, hook and family reads back as the value it
/// was written from.
@Suite struct PathStepTests {
    static let actions: [StepAction] = [
        .accept, .drop, .reject, .return, .queue, .jump("web"), .goto("svc"), .policy(.accept), .policy(.drop),
        .note("dnat to 192.0.2.1:80"), .note("drop (martian source)"), .note("forward to 10.1.0.9"), .note("notrack"),
        .note("stolen")
    ]

    @Test func actionsReadBackFromTheirWords() {
        for a in Self.actions { #expect(StepAction(a.description) == a, "\(a)") }
        #expect(StepAction("policy drop") == .policy(.drop) && StepAction("jump sub") == .jump("sub"))
    }

    @Test func jsonKeepsTheWordsAndReadsBackEqual() throws {
        let steps = [
            PathStep(table: "filter", family: .table(.inet), chain: "input", hook: .hook(.input), priority: 0, handle: 9, action: .accept),
            PathStep(table: "filter", family: .table(.ip), chain: "INPUT", hook: .hook(.input), priority: -5, handle: nil, action: .policy(.drop)),
            PathStep.routing(.ipv6, .note("forward to 2001:db8::9")),
            PathStep(table: "t", family: .table(.netdev), chain: "c", hook: nil, priority: 0, handle: 3, action: .jump("x"))
        ]
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data = try enc.encode(steps)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""action":"policy drop""#) && text.contains(#""family":"ipv6""#) && text.contains(#""hook":"routing""#))
        #expect(text.contains(#""hook":"""#))
        #expect(try JSONDecoder().decode([PathStep].self, from: data) == steps)
        #expect(steps[1].text == "ip filter INPUT [input -5]: policy drop")
        #expect(steps[2].text == "forward to 2001:db8::9")
    }

    @Test func unknownWordsAreRefused() {
        let bad = #"{"table":"t","family":"ipx","chain":"c","hook":"input","priority":0,"action":"accept"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PathStep.self, from: Data(bad.utf8)) }
    }
}
