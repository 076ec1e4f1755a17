import Foundation
import HostModel
import Serialization

/// Snapshot JSON: `SnapshotFastReader` may decline anything, but whatever it accepts the `Codable` path must accept
/// with an equal value; `SnapshotCodec.decode` must accept (with the same value) and refuse what the `Codable` path
/// does; and an accepted snapshot must survive encoding and decoding again unchanged.
enum SnapshotEntry {
    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzContractViolation) -> FuzzOutcome {
        let data = Data(input)
        let fast = SnapshotFastReader.decode(data)
        let plain = Result { try SnapshotCodec.decodeWithJSONDecoder(data) }
        if let fast {
            switch plain {
            case .success(let value):
                guard value == fast else { throw FuzzContractViolation("the fast reader and JSONDecoder decode different snapshots") }
            case .failure(let error):
                throw FuzzContractViolation("the fast reader accepted what JSONDecoder refuses: \(error)")
            }
        }
        switch (Result { try SnapshotCodec.decode(data) }, plain) {
        case (.success(let a), .success(let b)):
            guard a == b else { throw FuzzContractViolation("SnapshotCodec.decode and JSONDecoder decode different snapshots") }
            try roundTrip(a)
            return .accepted
        case (.failure(let error), .failure):
            // The same bytes must be refused with the same message every time (a dictionary decoded in hash order
            // once named one bad entry or another: Fuzz/README.md, "Found so far").
            if case .failure(let again) = Result(catching: { try SnapshotCodec.decode(data) }), "\(again)" != "\(error)" {
                throw FuzzContractViolation("the same snapshot is refused with different errors: \(error) / \(again)")
            }
            return .rejected
        case (.success, .failure(let error)):
            throw FuzzContractViolation("SnapshotCodec.decode accepted what JSONDecoder refuses: \(error)")
        case (.failure(let error), .success):
            throw FuzzContractViolation("SnapshotCodec.decode refused what JSONDecoder accepts: \(error)")
        }
    }

    /// What `collect` would write for this snapshot reads back as the same snapshot.
    static func roundTrip(_ snapshot: Snapshot) throws(FuzzContractViolation) {
        let again: Snapshot
        do { again = try SnapshotCodec.decode(SnapshotCodec.encode(snapshot, pretty: false)) } catch {
            throw FuzzContractViolation("an accepted snapshot, encoded again, does not decode: \(error)")
        }
        guard again == snapshot else { throw FuzzContractViolation("an accepted snapshot changes when encoded and decoded again") }
    }
}
