// Structured logs: one JSON object per line on stderr, so that kubectl logs
// and log shippers can parse them. Each record is written whole, with one
// write(2) under a lock: records of several threads never mix, and a program
// printing human text on stdout (line-buffered, see migrator/main.cc) never
// has a record land inside one of its lines when both go to one pipe.
//
// LOG_LEVEL (debug, info, warning or error; default info) is the lowest
// level written. Thread safe.
#ifndef BOOKING_COMMON_LOG_H_
#define BOOKING_COMMON_LOG_H_

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace booking {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogFields = std::initializer_list<std::pair<absl::string_view, std::string>>;

// True when a record at `level` is written (LOG_LEVEL, read once): lets a
// caller skip building fields nobody will read.
bool LogEnabled(LogLevel level);

// Writes {"time":..., "level":..., "component":..., "msg":..., fields...};
// the component is the binary's name.
void Log(LogLevel level, absl::string_view msg, LogFields fields = {});

// Runs `write` (which writes a line or a redraw of one to the terminal's
// stream, and flushes it) between two records, never during one, and then
// says whether it left the current line open (a progress bar redrawn in
// place with \r): while it is open, the next record begins with a newline,
// so that it starts a line of its own. One lock orders the two: a record
// can neither take the newline before the bar is written nor land after it
// without one.
void WriteBetweenRecords(const std::function<void()>& write, bool leaves_line_open);

inline void LogDebug(absl::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kDebug, msg, fields);
}
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
