// Configuration by flags with environment fallbacks: a flag given on the
// command line wins, then the environment variable, then the default.
#ifndef BOOKING_COMMON_CONFIG_H_
#define BOOKING_COMMON_CONFIG_H_

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/string_view.h"
#include "common/exit_codes.h"  // kExitUsage

namespace booking {

std::string FlagOrEnv(const absl::Flag<std::string>& flag, const char* env_var);

// Parses the command line (common/command_line.h). Flags may be spelled with
// dashes (--database-url) or underscores (--database_url). --help (-h,
// --helpfull) prints `usage` and this program's flags to stdout and exits 0;
// an unknown flag (with "did you mean"), a value its flag's type refuses or a
// flag without its value is printed to stderr and exits kExitUsage. Returns
// the positional arguments, the program name first.
std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage);

// ParseCommandLine for a program that takes flags only: a positional
// argument exits kExitUsage.
void ParseFlags(int argc, char** argv, absl::string_view usage);

}  // namespace booking

#endif  // BOOKING_COMMON_CONFIG_H_
