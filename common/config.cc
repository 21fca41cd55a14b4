#include "common/config.h"

#include <cstdlib>
#include <iostream>
#include <vector>

#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/command_line.h"

namespace booking {
namespace {

[[noreturn]] void UsageError(absl::string_view program, absl::string_view problem) {
  std::cerr << program << ": " << problem << " (see " << program << " --help)\n" << std::flush;
  std::exit(kExitUsage);
}

}  // namespace

std::string FlagOrEnv(const absl::Flag<std::string>& flag, const char* env_var) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) return value;
  const char* env = std::getenv(env_var);
  return env != nullptr ? std::string(env) : std::string();
}

std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage) {
  const std::vector<std::string> args(argv, argv + argc);
  const std::string program =
      args.empty() ? "" : std::string(absl::string_view(args[0]).substr(args[0].rfind('/') + 1));
  absl::SetProgramUsageMessage(usage);
  absl::StatusOr<command_line::Parsed> parsed = command_line::Apply(args);
  if (!parsed.ok()) UsageError(program, parsed.status().message());
  if (parsed->help) {
    std::cout << command_line::HelpText(program, usage) << std::flush;
    std::exit(0);
  }
  std::vector<std::string> positional = {args.empty() ? "" : args[0]};
  positional.insert(positional.end(), parsed->positional.begin(), parsed->positional.end());
  return positional;
}

void ParseFlags(int argc, char** argv, absl::string_view usage) {
  const std::vector<std::string> args = ParseCommandLine(argc, argv, usage);
  if (args.size() > 1) {
    UsageError(
        args[0].substr(args[0].rfind('/') + 1),
        absl::StrCat("unexpected argument \"", args[1], "\": this program takes flags only"));
  }
}

}  // namespace booking
