#pragma once

// The `tidemark` subcommands. Each takes the arguments after its name and
// returns the process exit code: 0 ok, 1 runtime failure, 2 usage or config
// error. Output for people goes to stdout; logs go to stderr.

#include <string>
#include <vector>

namespace tidemark::cli {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int runServe(const std::vector<std::string>& args);
int runDev(const std::vector<std::string>& args);
int runConfig(const std::vector<std::string>& args);
int runVersion(const std::vector<std::string>& args);

// Prints the top-level usage to stdout.
void printUsage();

}  // namespace tidemark::cli
