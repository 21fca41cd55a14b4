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
constexpr char kPendingSqlWhere[] = R"(
  WHERE ($1 = '' OR )";
constexpr char kPendingSqlEnd[] = R"( = ANY(string_to_array($1, ',')::int[]))
    AND ($3 = '' OR id <> ALL(string_to_array($3, ',')::bigint[]))
    AND ("retryAfter" IS NULL OR "retryAfter" <= now())
  ORDER BY id LIMIT $2)";

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
  static const std::string sql =
      absl::StrCat(kPendingSql, kTable, kPendingSqlWhere, kPartitionOf, kPendingSqlEnd);
  try {
    pqxx::read_transaction txn(conn);
    // Every partition (or none given): no filter.
    const pqxx::result r = txn.exec_params(sql,
                                           static_cast<int>(query.partitions.size()) == kPartitions
                                               ? ""
                                               : absl::StrJoin(query.partitions, ","),
                                           query.limit, absl::StrJoin(query.exclude, ","));
    std::vector<PendingEvent> events;
    events.reserve(r.size());
    for (const pqxx::row& row : r) events.push_back(PendingOfRow(row));
    return events;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking::outbox
