import FuzzDriver
import Foundation

// `make fuzz-snapshot`: libFuzzer on the `snapshot` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.snapshot, $0, $1) })
