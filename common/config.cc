#include "common/config.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace booking {

std::string FlagOrEnv(const absl::Flag<std::string>& flag, const char* env_var) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) return value;
  const char* env = std::getenv(env_var);
  return env != nullptr ? std::string(env) : std::string();
}

std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "booking-service/") ||
           absl::StrContains(path, "history-service/") || absl::StrContains(path, "migrator/") ||
           absl::StrContains(path, "common/") || absl::StrContains(path, "tools/");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.normalize_filename = [](absl::string_view path) {
    // Show paths relative to the repository, not the build machine.
    for (absl::string_view dir :
         {"booking-service/", "history-service/", "migrator/", "common/", "tools/"}) {
      auto pos = path.find(dir);
      if (pos != absl::string_view::npos) return std::string(path.substr(pos));
    }
    return std::string(path);
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  // absl flag names are identifiers; accept the dashed spelling operators and
  // Kubernetes manifests use.
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg[0] != '-' || arg[1] != '-') continue;
    const size_t name_end = std::min(arg.find('='), arg.size());
    std::replace(arg.begin() + 2, arg.begin() + name_end, '-', '_');
  }
  std::vector<char*> ptrs;
  for (std::string& arg : args) ptrs.push_back(arg.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(ptrs.size()), ptrs.data());
  return std::vector<std::string>(positional.begin(), positional.end());
}

}  // namespace booking
