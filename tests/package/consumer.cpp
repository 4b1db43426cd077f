// Uses segkit as a library: builds a zoo model, writes it as a checkpoint that records
// the model, and loads it back by the checkpoint alone.

#include <segkit/core/state_dict.h>
#include <segkit/models/load_model.h>
#include <segkit/models/zoo.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer CHECKPOINT_PATH\n";
    return 2;
  }
  const segkit::Model model = segkit::build_model(segkit::find_model("resnet18"), {5, false});
  segkit::CheckpointInfo info;
  info.model = "resnet18";
  info.task = "classification";
  info.num_classes = 5;
  segkit::save_checkpoint(segkit::module_state_dict(*model), info, argv[1]);
  const segkit::LoadedModel loaded = segkit::load_model("", argv[1]);
  std::cout << loaded.entry->name << " " << loaded.num_classes << " " << segkit::count_parameters(*loaded.model)
            << "\n";
  return 0;
}
