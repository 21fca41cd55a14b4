// A follower of the log (issue 22), client side: it resumes from a
// checkpoint it trusts and checks that the entries GetLogEntries gives
// extend that checkpoint to a newer signed one, nothing skipped, altered or
// reordered, without keeping anything but the checkpoint between runs.
//
//   trusted = the witness's checkpoint (size 0: the empty log);
//   next = GetLogCheckpoint, opened with the log's key;
//   page = GetLogEntries{start = trusted.size, end = next.size};
//   follower = LogFollower::Resume(trusted, page.start_range);
//   follower.Append(page); ... GetLogEntries{start = follower.size(), ...}
//   follower.Reached(next): the entries are leaves trusted.size .. next.size-1
//   of the tree `next` signs, and that tree extends `trusted`'s.
//
// Thread-compatible.
#ifndef HISTORY_SERVICE_LOG_FOLLOW_H_
#define HISTORY_SERVICE_LOG_FOLLOW_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "google/protobuf/repeated_field.h"
#include "history/v1/history.pb.h"

namespace booking {

class LogFollower {
 public:
  // From `trusted` (its signature already checked), with the compact range
  // the server sent for its size: DATA_LOSS unless the range gives trusted's
  // root (the server's tree does not extend what the follower had: a fork,
  // or a log rewritten), INVALID_ARGUMENT when it is malformed.
  static absl::StatusOr<LogFollower> Resume(
      const tlog::Checkpoint& trusted,
      const google::protobuf::RepeatedPtrField<std::string>& start_range);

  // The page's rows as leaves size(), size() + 1, ...: their leaf hashes
  // from their canonical bytes. The whole page is refused, nothing of it
  // appended, when an entry does not show the row its canonical bytes
  // encode, or they are not a row (entry_check.h: DATA_LOSS).
  absl::Status Append(const history::v1::GetLogEntriesResponse& page);

  // OK when the leaves so far are exactly `next`'s tree (same size, same
  // root); DATA_LOSS otherwise.
  absl::Status Reached(const tlog::Checkpoint& next) const;

  uint64_t size() const { return range_.size(); }

 private:
  explicit LogFollower(tlog::CompactRange range) : range_(std::move(range)) {}
  tlog::CompactRange range_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_LOG_FOLLOW_H_
