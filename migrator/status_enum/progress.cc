#include "migrator/status_enum/progress.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace booking::migrator {

Progress::Progress(std::ostream& out, std::string what, int64_t total, bool bar, std::string unit)
    : out_(out),
      what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      bar_(bar),
      start_(absl::Now()) {}

void Progress::Add(int64_t n) {
  done_ += n;
  const absl::Time now = absl::Now();
  if (!bar_ && now - last_line_ < absl::Seconds(5)) return;
  if (bar_ && now - last_line_ < absl::Milliseconds(100)) return;
  last_line_ = now;
  Print(false);
}

void Progress::Finish() { Print(true); }

void Progress::Print(bool final) {
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - start_));
  const double rate = static_cast<double>(done_) / secs;
  const int64_t total = std::max(total_, done_);
  const double fraction = total > 0 ? static_cast<double>(done_) / static_cast<double>(total) : 1;
  const double eta = rate > 0 ? static_cast<double>(total - done_) / rate : 0;
  // The whole line in one write: a log record (stderr too) never lands
  // inside it.
  std::string line;
  if (bar_) {
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    line =
        absl::StrCat("\r", what_, " [", std::string(filled, '#'), std::string(width - filled, '.'),
                     "] ", done_, "/", total, " ", unit_, ", ", static_cast<int64_t>(rate), " ",
                     unit_, "/s, ETA ", static_cast<int64_t>(eta), "s   ", final ? "\n" : "");
  } else {
    line = absl::StrCat(what_, ": ", done_, "/", total, " ", unit_, " (",
                        static_cast<int>(fraction * 100), "%), ", static_cast<int64_t>(rate), " ",
                        unit_, "/s, ETA ", static_cast<int64_t>(eta), "s", final ? ", done" : "",
                        "\n");
  }
  // The bar stays open until its final line: a log record meanwhile begins
  // on a line of its own (the bar written and its line noted open under the
  // log's lock, so no record comes between the two).
  WriteBetweenRecords(
      [&] {
        out_.write(line.data(), static_cast<std::streamsize>(line.size()));
        out_.flush();
      },
      bar_ && !final);
}

}  // namespace booking::migrator
