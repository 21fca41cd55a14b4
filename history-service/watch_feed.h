// WatchHistory's positions and the reads behind a watch.
//
// Every history row stored since schema step 0008 has a position in the
// "BookingStatusHistoryFeed" table, given after its ingest transaction
// committed by the feed's sequencer (feed_sequencer.h: one at a time, so
// positions become visible in ascending order): "every entry with a position
// above P" never misses a row that is sequenced later. Positions keep each
// booking's sequence order (feed_sequencer.h says why). Until sequenced (a
// few milliseconds) a row is in the feed's queue and not yet watched. Rows
// stored before step 0008 (legacy rows) have no position; a watch from the
// start reads them first, by booking and sequence.
// A booking's entries are in sequence order in both parts, and its legacy rows all come before its
// positioned ones, so a watch delivers each booking's entries in order.
//
// A resume token is sealed (page_token.h) "w2:<watch>:<position>" or, inside
// the legacy part, "w2:<watch>:L:<sequence>:<booking id>": the last entry
// delivered, <watch> binding it to the request's booking_id. Nothing is ever
// removed from the feed, so every token the server handed out can be
// resumed (with the same booking_id and token key); a token naming a
// position the store does not have yet is refused.
#ifndef HISTORY_SERVICE_WATCH_FEED_H_
#define HISTORY_SERVICE_WATCH_FEED_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "history/v1/history.pb.h"

namespace booking {

// NOTIFY'd by the feed's sequencer once new positions are visible.
inline constexpr char kFeedChannel[] = "history_feed";

// Where a watch stands: after the legacy row (booking_id, sequence), or
// after `position` in the feed.
struct FeedPosition {
  bool legacy = false;
  std::string booking_id;  // legacy only
  int64_t sequence = 0;    // legacy only
  int64_t position = 0;    // feed only; 0: before the first positioned row

  // Before every entry, legacy ones included.
  static FeedPosition Start() { return Legacy("", 0); }
  static FeedPosition Legacy(std::string booking_id, int64_t sequence) {
    FeedPosition at;
    at.legacy = true;
    at.booking_id = std::move(booking_id);
    at.sequence = sequence;
    return at;
  }
  static FeedPosition After(int64_t position) {
    FeedPosition at;
    at.position = position;
    return at;
  }
};

// The resume token of `at` for a watch of `booking_id` ("" for all).
std::string EncodeToken(const FeedPosition& at, const std::string& booking_id);
// INVALID_ARGUMENT (with a field violation on resume_token) when `token` is
// not one EncodeToken made (with this process's token keys) for `booking_id`.
absl::StatusOr<FeedPosition> DecodeToken(const std::string& token, const std::string& booking_id);

struct FeedEntry {
  history::v1::HistoryEntry entry;
  FeedPosition at;  // the entry's own position: its resume token
};

// The feed's highest committed position (0 when empty).
int64_t FeedHead(pqxx::transaction_base& txn);

// Whether rows older than the feed exist (recorded by schema step 0008).
bool HasLegacyRows(pqxx::transaction_base& txn);

// Up to `limit` entries after `after` and up to position `upto`, in order,
// of `booking_id` only when it is not empty. Past the legacy rows (fewer
// than `limit` of them left), the positioned ones follow in the same call.
absl::StatusOr<std::vector<FeedEntry>> ReadFeed(pqxx::transaction_base& txn,
                                                const FeedPosition& after, int64_t upto,
                                                const std::string& booking_id, int limit);

}  // namespace booking

#endif  // HISTORY_SERVICE_WATCH_FEED_H_
