import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `probe` target (`make fuzz-probe`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.probe, data, size)
}
