import FuzzDriver
import Foundation

// `make fuzz-report`: libFuzzer on the `report` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.report, $0, $1) })
