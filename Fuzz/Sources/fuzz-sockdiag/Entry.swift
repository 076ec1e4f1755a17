import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `sockdiag` target (`make fuzz-sockdiag`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.sockdiag, data, size)
}
