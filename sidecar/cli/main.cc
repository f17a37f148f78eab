// tidemark: the sidecar's single binary. See `tidemark --help`.

#include <cstdio>
#include <string>
#include <vector>

#include "sidecar/cli/checkpoints_command.h"
#include "sidecar/cli/commands.h"

int main(int argc, char** argv) {
  using namespace tidemark::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    printUsage();
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "serve") return runServe(rest);
  if (command == "dev") return runDev(rest);
  if (command == "config") return runConfig(rest);
  if (command == "checkpoints") return runCheckpoints(rest);
  if (command == "version" || command == "--version") return runVersion(rest);
  std::fprintf(stderr, "tidemark: unknown command '%s'\n\n", command.c_str());
  printUsage();
  return kExitUsage;
}
