import ArgumentParser

// TODO: replaced by its owner.
struct Exposure: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(in progress)")
    func run() throws { throw CommandFailure(status: .hostUnreadable, message: "not implemented yet") }
}
