// Structured logs: one JSON object per line on stderr, so that kubectl logs
// and log shippers can parse them.
#ifndef BOOKING_COMMON_LOG_H_
#define BOOKING_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace booking {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogFields = std::initializer_list<std::pair<absl::string_view, std::string>>;

// Writes {"time":..., "level":..., "component":..., "msg":..., fields...};
// the component is the binary's name.
void Log(LogLevel level, absl::string_view msg, LogFields fields = {});

inline void LogInfo(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

}  // namespace booking

#endif  // BOOKING_COMMON_LOG_H_
