import CLibFuzzer
import Foundation
import FuzzEntries

/// One libFuzzer input through the target's entry; a broken contract is reported and aborts, so libFuzzer saves the
/// input as a crash (a trap in the parser does the same by itself).
public func fuzzOne(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do {
        _ = try target.run(input)
    } catch {
        FileHandle.standardError.write(Data("portwarden fuzz \(target.rawValue): \(error.description)\n".utf8))
        abort()
    }
    return 0
}

/// Runs libFuzzer with this process's arguments (`-max_total_time=…`, corpus directories) on `body`; returns its
/// exit status (non-zero after a crash, leak or timeout).
public func runFuzzer(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv, body)
}
