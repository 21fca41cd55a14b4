#include "common/log.h"

#include <errno.h>  // program_invocation_short_name

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace booking {
namespace {

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// A JSON string literal.
std::string Quote(absl::string_view text) {
  google::protobuf::Value value;
  value.set_string_value(std::string(text));
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(value, &json).ok()) return "\"?\"";
  return json;
}

}  // namespace

void Log(LogLevel level, absl::string_view msg, LogFields fields) {
  // Fixed key order (time, level, component, msg, then fields) for people
  // reading the lines; values escaped by protobuf's JSON writer.
  std::string line = absl::StrCat(
      "{\"time\":",
      Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())),
      ",\"level\":", Quote(LevelName(level)),
      ",\"component\":", Quote(program_invocation_short_name), ",\"msg\":", Quote(msg));
  for (const auto& [key, value] : fields)
    absl::StrAppend(&line, ",", Quote(key), ":", Quote(value));
  line.append("}\n");
  // One fwrite per line keeps lines whole when several threads log.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace booking
