// libFuzzer entry point: see checkpoint_legacy_input() in harnesses.h.
#include "harnesses.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  segkit::fuzz::checkpoint_legacy_input(data, size);
  return 0;
}
