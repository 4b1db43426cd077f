// libFuzzer entry point: see image_input() in harnesses.h.
#include "harnesses.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  segkit::fuzz::image_input(data, size);
  return 0;
}
