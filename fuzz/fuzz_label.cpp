// libFuzzer entry point: see label_input() in harnesses.h.
#include "harnesses.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  segkit::fuzz::label_input(data, size);
  return 0;
}
