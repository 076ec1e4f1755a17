// libFuzzer's documented entry for programs that have their own main (https://llvm.org/docs/LibFuzzer.html,
// "Using libFuzzer as a library"). SwiftPM gives every executable a main of its own, so the binaries start
// libFuzzer through this instead of through libFuzzer's main and a global LLVMFuzzerTestOneInput.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
