#include "common/log.h"

#include <errno.h>  // program_invocation_short_name

#include <cstdio>

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

}  // namespace

void Log(LogLevel level, absl::string_view msg, LogFields fields) {
  google::protobuf::Struct line;
  auto& f = *line.mutable_fields();
  f["time"].set_string_value(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  f["level"].set_string_value(std::string(LevelName(level)));
  f["component"].set_string_value(program_invocation_short_name);
  f["msg"].set_string_value(std::string(msg));
  for (const auto& [key, value] : fields) f[std::string(key)].set_string_value(value);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(line, &json).ok()) json = std::string(msg);
  json.push_back('\n');
  // One fwrite per line keeps lines whole when several threads log.
  std::fwrite(json.data(), 1, json.size(), stderr);
}

}  // namespace booking
