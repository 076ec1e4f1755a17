import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `report` target (`make fuzz-report`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.report, data, size)
}
