#include "history-service/watch_feed.h"

#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/rpc_error.h"
#include "history-service/feed_queue.h"
#include "history-service/history_page.h"
#include "history-service/page_token.h"
#include "history-service/recorded_at.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

constexpr char kVersion[] = "w2";
constexpr char kPurpose[] = "history.v1.WatchHistory resume_token";

// What a token is bound to: the watch's booking_id ("" for all).
std::string WatchBinding(const std::string& booking_id) {
  return Sha256Hex(absl::StrCat("watch:", booking_id)).substr(0, 16);
}

absl::Status BadToken(absl::string_view why) {
  return InvalidField("resume_token", absl::StrCat("not a token returned by WatchHistory: ", why));
}

// Where a result of ReadLegacy or ReadPositioned holds its columns:
// kHistoryEntryColumns, then booking_id and position (0 for legacy rows).
struct FeedLayout {
  explicit FeedLayout(const pqxx::result& r)
      : entry(r),
        booking_id(r.column_number("booking_id")),
        position(r.column_number("position")) {}

  HistoryEntryLayout entry;
  pqxx::row_size_type booking_id, position;
};

// A row as an entry; INTERNAL when its stored metadata does not parse.
absl::StatusOr<FeedEntry> ToFeedEntry(const pqxx::row& row, const FeedLayout& at, bool legacy) {
  FeedEntry out;
  history::v1::HistoryEntry& e = out.entry;
  if (absl::Status s = HistoryRowToEntry(row, at.entry, row[at.booking_id].as<std::string>(), &e);
      !s.ok()) {
    return s;
  }
  if (legacy) {
    out.at = FeedPosition::Legacy(e.booking_id(), e.sequence());
  } else {
    out.at = FeedPosition::After(row[at.position].as<int64_t>());
  }
  return out;
}

absl::Status Append(const pqxx::result& rows, bool legacy, std::vector<FeedEntry>& out) {
  const FeedLayout at(rows);
  for (const pqxx::row& row : rows) {
    absl::StatusOr<FeedEntry> e = ToFeedEntry(row, at, legacy);
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  return absl::OkStatus();
}

// Legacy rows (no feed row, none waiting in the feed's queue) after
// (booking, sequence), by booking and sequence: the unique ("bookingId",
// sequence) index, probing the feed's "historyId" index for each (the
// queue's ids, a few batches at most, hashed once: kQueuedHistoryIds). A row moves from the queue
// to the feed in one transaction, so the statement's snapshot sees it in one of the two.
pqxx::result ReadLegacy(pqxx::transaction_base& txn, const FeedPosition& after,
                        const std::string& booking_id, int limit) {
  return txn.exec_params(absl::StrCat("SELECT ", kHistoryEntryColumns,
                                      R"(, h."bookingId" AS booking_id, 0 AS position
        FROM "BookingStatusHistory" h
        WHERE (h."bookingId", h.sequence) > ($1, $2) AND ($3 = '' OR h."bookingId" = $3)
          AND NOT EXISTS (SELECT 1 FROM "BookingStatusHistoryFeed" f WHERE f."historyId" = h.id)
          AND h.id NOT IN ()",
                                      kQueuedHistoryIds, R"()
        ORDER BY h."bookingId", h.sequence LIMIT $4)"),
                         after.booking_id, after.sequence, booking_id, limit);
}

// All: the next `limit` feed rows in position order (the page first, by the
// feed's key), then their rows, within the page's own span of recorded
// times (init plans: the partitions outside it are never scanned, whatever
// the join). One booking: its few rows by the ("bookingId", sequence) index
// within its head's span of times, each joined to its position.
pqxx::result ReadPositioned(pqxx::transaction_base& txn, int64_t after, int64_t upto,
                            const std::string& booking_id, int limit) {
  const std::string select = absl::StrCat("SELECT ", kHistoryEntryColumns,
                                          R"(, h."bookingId" AS booking_id, f.position AS position
        FROM )");
  if (booking_id.empty()) {
    return txn.exec_params(
        absl::StrCat(R"(WITH page AS MATERIALIZED (
            SELECT position, "historyId", "recordedAt" FROM "BookingStatusHistoryFeed"
            WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3) )",
                     select, R"(page f JOIN "BookingStatusHistory" h ON h.id = f."historyId"
          AND )",
                     RecordedAtMatches("h", "f"), R"(
          AND h."recordedAt" BETWEEN (SELECT min(COALESCE("recordedAt", '-infinity')) FROM page)
                                 AND (SELECT max(COALESCE("recordedAt", )",
                     kLegacyUntil, R"()) FROM page)
        ORDER BY f.position)"),
        after, upto, limit);
  }
  return txn.exec_params(
      absl::StrCat(select, R"("BookingStatusHistoryFeed" f JOIN "BookingStatusHistory" h
          ON h.id = f."historyId" AND )",
                   RecordedAtMatches("h", "f"), R"(
        WHERE f.position > $1 AND f.position <= $2 AND h."bookingId" = $4 AND )",
                   BookingRowsRecorded("h", "$4"), " ORDER BY f.position LIMIT $3"),
      after, upto, limit, booking_id);
}

}  // namespace

std::string EncodeToken(const FeedPosition& at, const std::string& booking_id) {
  const std::string plain =
      at.legacy ? absl::StrCat(kVersion, ":", WatchBinding(booking_id), ":L:", at.sequence, ":",
                               at.booking_id)
                : absl::StrCat(kVersion, ":", WatchBinding(booking_id), ":", at.position);
  return SealToken(kPurpose, plain);
}

absl::StatusOr<FeedPosition> DecodeToken(const std::string& token, const std::string& booking_id) {
  if (token.size() > limits::kMaxPageTokenBytes) return BadToken("too long");
  const std::optional<std::string> plain = OpenToken(kPurpose, token);
  if (!plain) return BadToken("not signed by this service (or under another --page-token-key)");
  // Authentic from here on; still checked, as if it were not.
  std::vector<std::string> parts = absl::StrSplit(*plain, absl::MaxSplits(':', 4));
  if (parts.size() < 3 || parts[0] != kVersion) return BadToken("unknown version");
  if (parts[1] != WatchBinding(booking_id)) {
    return InvalidField("resume_token",
                        "made for a watch of another booking_id: resume with the booking_id of "
                        "the watch that returned it");
  }
  FeedPosition at;
  if (parts.size() == 3) {
    if (!absl::SimpleAtoi(parts[2], &at.position) || at.position < 0) {
      return BadToken("bad position");
    }
    return at;
  }
  at.legacy = true;
  if (parts.size() != 5 || parts[2] != "L" || !absl::SimpleAtoi(parts[3], &at.sequence) ||
      at.sequence < 0 || !CheckText("resume_token", parts[4], limits::kMaxIdBytes).ok()) {
    return BadToken("bad legacy position");
  }
  at.booking_id = parts[4];
  return at;
}

int64_t FeedHead(pqxx::transaction_base& txn) {
  return txn.exec(R"(SELECT COALESCE(max(position), 0) AS head FROM "BookingStatusHistoryFeed")")
      .front()["head"]
      .as<int64_t>();
}

bool HasLegacyRows(pqxx::transaction_base& txn) {
  pqxx::result r =
      txn.exec(R"(SELECT "legacyRows" AS legacy_rows FROM "BookingStatusHistoryFeedStart")");
  return !r.empty() && r.front()["legacy_rows"].as<bool>();
}

absl::StatusOr<std::vector<FeedEntry>> ReadFeed(pqxx::transaction_base& txn,
                                                const FeedPosition& after, int64_t upto,
                                                const std::string& booking_id, int limit) {
  std::vector<FeedEntry> out;
  int64_t from = after.position;
  if (after.legacy) {
    if (HasLegacyRows(txn)) {
      if (absl::Status s = Append(ReadLegacy(txn, after, booking_id, limit), true, out); !s.ok()) {
        return s;
      }
      if (static_cast<int>(out.size()) == limit) return out;
    }
    from = 0;  // the legacy rows are done: the feed from its start
  }
  const int left = limit - static_cast<int>(out.size());
  if (absl::Status s = Append(ReadPositioned(txn, from, upto, booking_id, left), false, out);
      !s.ok()) {
    return s;
  }
  return out;
}

}  // namespace booking
