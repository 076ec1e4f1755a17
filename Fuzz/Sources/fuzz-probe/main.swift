import FuzzDriver
import Foundation

// `make fuzz-probe`: libFuzzer on the `probe` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.probe, $0, $1) })
