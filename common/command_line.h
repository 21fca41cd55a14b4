// The command line of every binary, read against abseil's flag registry:
// flags by the dashed names operators type (underscores accepted), each value
// checked against its flag's type, a "did you mean" for a mistyped name, and
// the --help text. ParseCommandLine (common/config.h) is the one caller.
#ifndef BOOKING_COMMON_COMMAND_LINE_H_
#define BOOKING_COMMON_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking::command_line {

struct Parsed {
  bool help = false;                    // --help, -h or --helpfull was given
  std::vector<std::string> positional;  // in order, the program name not included
};

// Reads args (args[0] is the program): sets every flag named, in order, and
// collects the positional arguments ("--" ends the flags). INVALID_ARGUMENT
// naming the first mistake: an unknown flag (with the closest known name when
// one is close), a value its flag's type refuses (with the form expected), a
// flag without its value. Only this program's flags count: those abseil
// registers for itself (--flagfile, --fromenv, --undefok, ...) are unknown.
absl::StatusOr<Parsed> Apply(const std::vector<std::string>& args);

// The help: the usage message, then the program's flags by their dashed
// names, grouped (its own first, then the shared ones by topic), each with
// its help and default.
std::string HelpText(absl::string_view program, absl::string_view usage);

}  // namespace booking::command_line

#endif  // BOOKING_COMMON_COMMAND_LINE_H_
