// `segkit completion bash`: a bash completion script made from the command line's own
// definition, so it always knows every subcommand, flag and zoo model.

#include <iostream>

#include "commands.h"
#include "segkit/core/errors.h"
#include "segkit/io/palette.h"
#include "segkit/models/zoo.h"

namespace segkit::cli {
namespace {

void print_bash(const CLI::App& app) {
  std::vector<std::string> commands;
  std::cout << "# bash completion for segkit: eval \"$(segkit completion bash)\" in ~/.bashrc,\n"
               "# or save it as /etc/bash_completion.d/segkit\n"
               "_segkit() {\n"
               "  local cur prev cmd i\n"
               "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
               "  prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
               "  cmd=\"\"\n"
               "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
               "    case \"${COMP_WORDS[i]}\" in -*) ;; *) cmd=\"${COMP_WORDS[i]}\"; break ;; esac\n"
               "  done\n"
               "  case \"$prev\" in\n"
               "    -m|--model|--teacher-model) COMPREPLY=($(compgen -W \""
            << join(model_zoo().names(), " ") << "\" -- \"$cur\")); return ;;\n"
            << "    --palette) COMPREPLY=($(compgen -W \"" << join(palette_names(), " ")
            << "\" -- \"$cur\") $(compgen -f -- \"$cur\")); return ;;\n"
            << "    --device) COMPREPLY=($(compgen -W \"cpu cuda\" -- \"$cur\")); return ;;\n"
            << "    --precision) COMPREPLY=($(compgen -W \"fp32 bf16 fp16 int8 auto\" -- \"$cur\")); return ;;\n"
            << "    --task) COMPREPLY=($(compgen -W \"semantic classification instance\" -- \"$cur\")); return ;;\n"
            << "  esac\n"
            << "  case \"$cmd\" in\n";
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(sub->get_name());
    std::vector<std::string> flags;
    for (const CLI::Option* option : sub->get_options()) {
      for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
      for (const auto& name : option->get_snames()) flags.push_back("-" + name);
    }
    std::cout << "    " << sub->get_name() << ")\n"
              << "      if [[ \"$cur\" == -* ]]; then COMPREPLY=($(compgen -W \"" << join(flags, " ")
              << "\" -- \"$cur\")); else COMPREPLY=($(compgen -f -- \"$cur\")); fi ;;\n";
  }
  std::cout << "    *) COMPREPLY=($(compgen -W \"" << join(commands, " ")
            << " --help --version --config\" -- \"$cur\")) ;;\n"
            << "  esac\n"
               "}\n"
               "complete -o filenames -F _segkit segkit\n";
}

}  // namespace

Run add_completion_command(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "Print a shell completion script (bash)");
  cmd->add_option("shell", *shell, "The shell: bash")->required();
  return [shell, &app] {
    if (*shell != "bash") fail("completion: only bash is supported, got \"", *shell, "\"");
    print_bash(app);
  };
}

}  // namespace segkit::cli
