#include "history-service/ingest_tally.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace booking {

std::optional<IngestTally::Summary> IngestTally::Add(int64_t events, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (since_ == absl::InfinitePast()) since_ = now;
  events_ += events;
  ++batches_;
  if (now - since_ < interval_) return std::nullopt;
  return TakeLocked(now);
}

std::optional<IngestTally::Summary> IngestTally::Flush(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (batches_ == 0) return std::nullopt;
  return TakeLocked(now);
}

std::optional<IngestTally::Summary> IngestTally::TakeLocked(absl::Time now) {
  Summary summary{events_, batches_, now - since_};
  events_ = 0;
  batches_ = 0;
  since_ = now;
  return summary;
}

void LogIngestSummary(const IngestTally::Summary& summary) {
  const int64_t seconds = static_cast<int64_t>(std::lround(absl::ToDoubleSeconds(summary.over)));
  LogInfo(absl::StrCat("stored ", summary.events, " events from ", summary.batches,
                       " batches in the last ", seconds, " s"),
          {{"events", absl::StrCat(summary.events)},
           {"batches", absl::StrCat(summary.batches)},
           {"seconds", absl::StrCat(seconds)}});
}

}  // namespace booking
