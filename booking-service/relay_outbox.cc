#include "booking-service/relay_outbox.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pg.h"
#include "common/store_schema.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace booking {
namespace {

// The event of a pending row; a reason when it cannot be sent as it is.
std::string EventOf(outbox::PendingEvent& row, history::v1::StatusChangeEvent& e) {
  e.set_event_id(std::move(row.event_id));
  e.set_booking_id(std::move(row.booking_id));
  e.set_sequence(row.sequence);
  e.set_from_status(std::move(row.from_status));
  e.set_to_status(std::move(row.to_status));
  e.set_changed_by(std::move(row.changed_by));
  e.set_reason(std::move(row.reason));
  e.set_traceparent(std::move(row.trace_parent));
  *e.mutable_change_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row.created_micros);
  // The service writes metadata from a Struct, so it parses back; a row
  // that does not (written by hand, say) would lose its metadata if sent.
  if (!row.metadata.empty() &&
      !google::protobuf::util::JsonStringToMessage(row.metadata, e.mutable_metadata()).ok()) {
    return "metadata is not a JSON object (set aside by the relay)";
  }
  return "";
}

// Bytes `e` adds to a serialized IngestRequest (tag, length, message).
size_t EncodedSize(const history::v1::StatusChangeEvent& e) {
  const size_t n = e.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
}

void SetAside(Batch& batch, int64_t outbox_id, const std::string& event_id, std::string reason) {
  batch.set_aside_ids.push_back(outbox_id);
  history::v1::RejectedEvent* rejected = batch.set_aside.Add();
  rejected->set_event_id(event_id);
  rejected->set_reason(std::move(reason));
}

// An event set aside: copied with `$2` as its reject reason (once).
const std::string& SetAsideSql() {
  static const std::string sql = [] {
    const std::string columns = absl::StrJoin(outbox::kEventColumns, ", ");
    return absl::StrCat("INSERT INTO ", outbox::kRejectedTable, " (", columns,
                        R"(, "rejectReason") SELECT )", columns, ", $2 FROM ", outbox::kTable,
                        R"( WHERE "eventId" = $1::uuid ON CONFLICT DO NOTHING)");
  }();
  return sql;
}

// Deletes acknowledged events `ids` (values inlined: integers); "" for none.
std::string DeleteSql(const std::vector<int64_t>& ids) {
  if (ids.empty()) return "";
  return absl::StrCat("DELETE FROM ", outbox::kTable, " WHERE id = ANY('{", absl::StrJoin(ids, ","),
                      "}'::bigint[])");
}

// Settle's statements, in one transaction; libpqxx errors are thrown.
void SettleIn(pqxx::connection& conn, const std::vector<int64_t>& outbox_ids,
              const google::protobuf::RepeatedPtrField<history::v1::RejectedEvent>& rejected) {
  pqxx::work txn(conn);
  std::vector<std::string> waiting;  // gaps: stay in the outbox
  for (const history::v1::RejectedEvent& r : rejected) {
    if (r.disposition() == history::v1::GAP) {
      // Sent again after a pause that doubles (1 s up to kMaxGapPause); set
      // aside after kMaxGapTries. history-service holds it meanwhile and
      // stores it itself once the missing events arrive.
      pqxx::result kept =
          txn.exec_params(absl::StrCat("UPDATE ", outbox::kTable, R"(
             SET "heldCount" = "heldCount" + 1,
                 "retryAfter" = now() + least(power(2, "heldCount"), $2) * interval '1 second'
             WHERE "eventId" = $1::uuid AND "heldCount" + 1 < $3
             RETURNING id)"),
                          r.event_id(), absl::ToInt64Seconds(kMaxGapPause), kMaxGapTries);
      if (!kept.empty()) {
        waiting.push_back(r.event_id());
        continue;
      }
    }
    const std::string why =
        r.disposition() == history::v1::GAP
            ? absl::StrCat("held back by history as a gap ", kMaxGapTries,
                           " times; the missing events never came: ", r.reason())
            : r.reason();
    txn.exec_params(SetAsideSql(), r.event_id(), why);
  }
  txn.exec_params(absl::StrCat("DELETE FROM ", outbox::kTable,
                               R"( WHERE id = ANY(string_to_array($1, ',')::bigint[])
           AND "eventId"::text <> ALL(string_to_array($2, ',')))"),
                  absl::StrJoin(outbox_ids, ","), absl::StrJoin(waiting, ","));
  txn.commit();
}

}  // namespace

absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenOutbox(const std::string& url,
                                                             const std::string& schema,
                                                             int statement_timeout_ms) {
  return Connect(url, [&](pqxx::connection& c) {
    UseStoreSchema(c, "Booking", schema);
    c.set_variable("statement_timeout", absl::StrCat(statement_timeout_ms));
  });
}

absl::StatusOr<Batch> ReadBatch(pqxx::connection& conn, const std::vector<int>& partitions,
                                const std::vector<int64_t>& exclude, const BatchLimits& limits,
                                const std::vector<int64_t>& delete_first) {
  absl::StatusOr<std::vector<outbox::PendingEvent>> pending =
      outbox::ReadPending(conn, {.partitions = partitions,
                                 .exclude = exclude,
                                 .limit = limits.max_events,
                                 .before = DeleteSql(delete_first)});
  if (!pending.ok()) return pending.status();
  const size_t max_bytes = static_cast<size_t>(std::max(limits.max_bytes, kBatchOverheadBytes));
  Batch batch;
  batch.more = static_cast<int>(pending->size()) >= limits.max_events;
  size_t bytes = kBatchOverheadBytes;
  for (outbox::PendingEvent& row : *pending) {
    const int64_t outbox_id = row.outbox_id;
    history::v1::StatusChangeEvent e;
    if (std::string why = EventOf(row, e); !why.empty()) {
      SetAside(batch, outbox_id, e.event_id(), std::move(why));
      continue;
    }
    const size_t size = EncodedSize(e);
    if (kBatchOverheadBytes + size > max_bytes) {
      // Alone it would not fit in any batch: sent, it would never be.
      SetAside(batch, outbox_id, e.event_id(),
               absl::StrCat("event is ", size, " bytes encoded, more than a batch may hold (",
                            max_bytes, " bytes; set aside by the relay)"));
      continue;
    }
    if (bytes + size > max_bytes) {  // the next batch takes it
      batch.more = true;
      break;
    }
    bytes += size;
    batch.outbox_ids.push_back(outbox_id);
    *batch.request.add_events() = std::move(e);
  }
  return batch;
}

absl::Status Settle(
    pqxx::connection& conn, const std::vector<int64_t>& outbox_ids,
    const google::protobuf::RepeatedPtrField<history::v1::RejectedEvent>& rejected) {
  try {
    if (rejected.empty()) {
      // One statement: no BEGIN and COMMIT of its own.
      if (!outbox_ids.empty()) pqxx::nontransaction(conn).exec(DeleteSql(outbox_ids));
      return absl::OkStatus();
    }
    SettleIn(conn, outbox_ids, rejected);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::StatusOr<Backlog> ReadBacklog(pqxx::connection& conn) {
  try {
    // The count reads at most kBacklogCountCap + 1 ids in id order through
    // the primary key; min(id) and max(id) are index lookups.
    static const std::string sql = absl::StrCat(R"(
        SELECT CASE WHEN n <= $1 THEN n ELSE GREATEST(n, hi - lo + 1) END AS events,
               n > $1 AS estimated,
               COALESCE(extract(epoch from timezone('UTC', now()) -
                   (SELECT "createdAt" FROM )",
                                                outbox::kTable, R"( WHERE id = lo)), 0)::float8
                 AS oldest_age_seconds
        FROM (SELECT (SELECT count(*) FROM (SELECT id FROM )",
                                                outbox::kTable, R"( ORDER BY id LIMIT $1 + 1) AS c)
                       AS n,
                     (SELECT min(id) FROM )",
                                                outbox::kTable, R"() AS lo,
                     (SELECT max(id) FROM )",
                                                outbox::kTable, R"() AS hi) AS span)");
    pqxx::nontransaction txn(conn);
    const pqxx::row r = txn.exec_params1(sql, kBacklogCountCap);
    return Backlog{.events = r["events"].as<double>(),
                   .estimated = r["estimated"].as<bool>(),
                   .oldest_age_seconds = std::max(0.0, r["oldest_age_seconds"].as<double>())};
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking
