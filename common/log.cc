#include "common/log.h"

#include <errno.h>  // program_invocation_short_name
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/input_check.h"
#include "common/json_string.h"
#include "common/limits.h"

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

// At most limits::kMaxLoggedValueBytes of `text` (cut on a character
// boundary, the length noted): a caller's 3 MB value does not fill the log.
std::string Cut(absl::string_view text) {
  if (text.size() <= limits::kMaxLoggedValueBytes) return std::string(text);
  size_t end = limits::kMaxLoggedValueBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(text.substr(0, end), "... (", text.size(), " bytes)");
}

// A JSON string literal; bytes that are not UTF-8 are written as \x escapes.
std::string Quote(absl::string_view text) {
  return IsValidUtf8(text) ? JsonString(text) : JsonString(absl::CHexEscape(text));
}

std::string Record(LogLevel level, absl::string_view msg, LogFields fields) {
  // Fixed key order (time, level, component, msg, then fields) for people
  // reading the lines; values escaped as JSON strings (common/json_string.h).
  std::string line = absl::StrCat(
      "{\"time\":",
      Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())),
      ",\"level\":", Quote(LevelName(level)),
      ",\"component\":", Quote(program_invocation_short_name), ",\"msg\":", Quote(Cut(msg)));
  for (const auto& [key, value] : fields)
    absl::StrAppend(&line, ",", Quote(key), ":", Quote(Cut(value)));
  line.append("}\n");
  return line;
}

// The whole record with write(2), looping only on a short write (a pipe
// takes up to 64 KiB at once; a record is at most a few KiB): stdio's
// unbuffered stderr could split it, and a lock keeps threads' records apart.
std::mutex& WriteMutex() {
  static std::mutex* const mu = new std::mutex;
  return *mu;
}
bool open_line = false;  // guarded by WriteMutex()

void WriteWhole(std::string line) {
  std::lock_guard<std::mutex> lock(WriteMutex());
  if (std::exchange(open_line, false)) line.insert(0, "\n");
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr closed: nowhere to say so
    done += static_cast<size_t>(n);
  }
}

LogLevel ReadThreshold() {
  const char* env = std::getenv("LOG_LEVEL");
  const absl::string_view value = env == nullptr ? "" : env;
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (value == LevelName(level)) return level;
  }
  if (!value.empty()) {
    WriteWhole(
        Record(LogLevel::kWarning, "LOG_LEVEL not understood; logging at info",
               {{"LOG_LEVEL", std::string(value)}, {"expected", "debug, info, warning or error"}}));
  }
  return LogLevel::kInfo;
}

}  // namespace

void WriteBetweenRecords(const std::function<void()>& write, bool leaves_line_open) {
  std::lock_guard<std::mutex> lock(WriteMutex());
  write();
  open_line = leaves_line_open;
}

bool LogEnabled(LogLevel level) {
  static const LogLevel threshold = ReadThreshold();
  return level >= threshold;
}

void Log(LogLevel level, absl::string_view msg, LogFields fields) {
  if (!LogEnabled(level)) return;
  WriteWhole(Record(level, msg, fields));
}

}  // namespace booking
