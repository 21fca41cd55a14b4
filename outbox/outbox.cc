#include "outbox/outbox.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pg.h"

namespace booking::outbox {
namespace {

// The reader's SELECT and its one row mapping, by the names it gives.
constexpr char kPendingSql[] = R"(SELECT id AS outbox_id, "eventId"::text AS event_id,
       "bookingId" AS booking_id, sequence, COALESCE("fromStatus", '') AS from_status,
       "toStatus" AS to_status, "changedBy" AS changed_by, COALESCE(reason, '') AS reason,
       COALESCE(metadata::text, '') AS metadata,
       (extract(epoch from "createdAt") * 1000000)::bigint AS created_micros,
       COALESCE("traceParent", '') AS trace_parent
  FROM )";

// The SELECT for `q` with its values inlined (integers only: nothing to
// quote), so that it can share a message with the statement before it.
std::string PendingSql(const PendingQuery& q) {
  std::string sql = absl::StrCat(kPendingSql, kTable, R"(
  WHERE ("retryAfter" IS NULL OR "retryAfter" <= now()))");
  // Every partition (or none given): no filter.
  if (!q.partitions.empty() && static_cast<int>(q.partitions.size()) != kPartitions) {
    absl::StrAppend(&sql, "\n    AND ", kPartitionOf, " IN (", absl::StrJoin(q.partitions, ","),
                    ")");
  }
  if (!q.exclude.empty()) {
    absl::StrAppend(&sql, "\n    AND id <> ALL('{", absl::StrJoin(q.exclude, ","), "}'::bigint[])");
  }
  absl::StrAppend(&sql, "\n  ORDER BY id LIMIT ", q.limit);
  return sql;
}

PendingEvent PendingOfRow(const pqxx::row& row) {
  PendingEvent e;
  e.outbox_id = row["outbox_id"].as<int64_t>();
  e.event_id = row["event_id"].as<std::string>();
  e.booking_id = row["booking_id"].as<std::string>();
  e.sequence = row["sequence"].as<int64_t>();
  e.from_status = row["from_status"].as<std::string>();
  e.to_status = row["to_status"].as<std::string>();
  e.changed_by = row["changed_by"].as<std::string>();
  e.reason = row["reason"].as<std::string>();
  e.metadata = row["metadata"].as<std::string>();
  e.created_micros = row["created_micros"].as<int64_t>();
  e.trace_parent = row["trace_parent"].as<std::string>();
  return e;
}

// The columns writers give values for (the table fills "id", "eventId" and
// "createdAt"; the relay "retryAfter" and "heldCount").
constexpr std::pair<absl::string_view, std::string EventValues::*> kWritten[] = {
    {"\"bookingId\"", &EventValues::booking_id},   {"sequence", &EventValues::sequence},
    {"\"fromStatus\"", &EventValues::from_status}, {"\"toStatus\"", &EventValues::to_status},
    {"\"changedBy\"", &EventValues::changed_by},   {"reason", &EventValues::reason},
    {"metadata", &EventValues::metadata},          {"\"traceParent\"", &EventValues::trace_parent},
};

}  // namespace

const std::string& NotifyCall() {
  static const std::string kCall = absl::StrCat("pg_notify('", kChannel, "', '')");
  return kCall;
}

std::string InsertSql(const EventValues& v, absl::string_view source) {
  std::vector<absl::string_view> columns, values;
  for (const auto& [column, value] : kWritten) {
    if ((v.*value).empty()) continue;
    columns.push_back(column);
    values.push_back(v.*value);
  }
  const std::string list = absl::StrJoin(values, ", ");
  return absl::StrCat("INSERT INTO ", kTable, " (", absl::StrJoin(columns, ", "), ") ",
                      source.empty() ? absl::StrCat("VALUES (", list, ")")
                                     : absl::StrCat("SELECT ", list, " ", source));
}

absl::StatusOr<std::vector<PendingEvent>> ReadPending(pqxx::connection& conn,
                                                      const PendingQuery& query) {
  try {
    // One simple-query message: the statements run in one implicit
    // transaction and the result is the SELECT's (the last).
    pqxx::nontransaction txn(conn);
    const pqxx::result r =
        txn.exec(query.before.empty() ? PendingSql(query)
                                      : absl::StrCat(query.before, ";\n", PendingSql(query)));
    std::vector<PendingEvent> events;
    events.reserve(r.size());
    for (const pqxx::row& row : r) events.push_back(PendingOfRow(row));
    return events;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking::outbox
