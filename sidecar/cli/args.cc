#include "sidecar/cli/args.h"

namespace tidemark::cli {

std::string Args::get(const std::string& flag, const std::string& fallback) const {
  auto it = values.find(flag);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& flag) const {
  static const std::vector<std::string> kNone;
  auto it = values.find(flag);
  return it == values.end() ? kNone : it->second;
}

StatusOr<Args> parseArgs(const std::vector<std::string>& argv, const std::vector<FlagSpec>& specs) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      args.present.insert("help");
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      args.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return invalidArgument("unknown flag --" + name);
    if (args.has(name) && !spec->repeatable) {
      return invalidArgument("--" + name + " given more than once");
    }
    args.present.insert(name);
    if (!spec->takes_value) {
      if (inline_value) return invalidArgument("--" + name + " takes no value");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) return invalidArgument("--" + name + " needs a value");
      value = argv[++i];
    }
    args.values[name].push_back(value);
  }
  return args;
}

}  // namespace tidemark::cli
