// Configuration by flags with environment fallbacks: a flag given on the
// command line wins, then the environment variable, then the default.
#ifndef BOOKING_COMMON_CONFIG_H_
#define BOOKING_COMMON_CONFIG_H_

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/string_view.h"

namespace booking {

std::string FlagOrEnv(const absl::Flag<std::string>& flag, const char* env_var);

// Parses the command line with a --help that shows this program's own flags
// (and common/'s), not those of every linked library. Flags may be spelled
// with dashes (--database-url) or underscores (--database_url). Returns the
// positional arguments, the program name first.
std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage);

}  // namespace booking

#endif  // BOOKING_COMMON_CONFIG_H_
