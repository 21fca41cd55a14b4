#include "history-service/log_follow.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "history-service/entry_check.h"

namespace booking {

absl::StatusOr<LogFollower> LogFollower::Resume(
    const tlog::Checkpoint& trusted,
    const google::protobuf::RepeatedPtrField<std::string>& start_range) {
  std::vector<tlog::Hash> nodes;
  for (const std::string& bytes : start_range) {
    absl::StatusOr<tlog::Hash> h = tlog::HashFromBytes(bytes);
    if (!h.ok()) return absl::InvalidArgumentError("start_range holds a hash that is not 32 bytes");
    nodes.push_back(*h);
  }
  absl::StatusOr<tlog::CompactRange> range = tlog::CompactRange::Restore(trusted.size, nodes);
  if (!range.ok()) return absl::InvalidArgumentError(range.status().message());
  if (range->Root() != trusted.root) {
    return absl::DataLossError(absl::StrCat(
        "the log's tree of ", trusted.size, " entries is not the one the trusted checkpoint of ",
        trusted.origin, " signs (root ", tlog::HashToHex(trusted.root), ", the log now gives ",
        tlog::HashToHex(range->Root()), "): the log was forked or rewritten"));
  }
  return LogFollower(*std::move(range));
}

absl::Status LogFollower::Append(const history::v1::GetLogEntriesResponse& page) {
  // The whole page or none of it: an entry shown as another row refuses it.
  for (const history::v1::VerifiedRow& row : page.rows()) {
    if (absl::Status s = CheckEntryShowsCanonical(row.entry(), row.canonical()); !s.ok()) {
      return s;
    }
  }
  for (const history::v1::VerifiedRow& row : page.rows()) {
    if (absl::Status s = range_.Append(tlog::LeafHash(row.canonical())); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LogFollower::Reached(const tlog::Checkpoint& next) const {
  if (range_.size() != next.size) {
    return absl::DataLossError(absl::StrCat(
        "received ", range_.size(), " entries of the log, the checkpoint signs ", next.size));
  }
  if (range_.Root() != next.root) {
    return absl::DataLossError(
        absl::StrCat("the entries received do not give the root the checkpoint of size ", next.size,
                     " signs: an entry was altered, left out or reordered"));
  }
  return absl::OkStatus();
}

}  // namespace booking
