#include "history-service/ingest_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_string.h"
#include "history-service/recorded_at.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// The advisory lock class of history bookings (any constant of our own).
constexpr int kBookingLockClass = 0x4853;  // "HS"

std::string JsonTextArray(const std::set<std::string>& values) {
  std::string out = "[";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += JsonString(v);
  }
  return out + "]";
}

}  // namespace

std::vector<RowContent> NormalizeEvents(pqxx::transaction_base& txn,
                                        const history::v1::IngestRequest& batch,
                                        const EncodedEvents& encoded) {
  std::vector<int> all(encoded.json.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int>(k);
  // PostgreSQL gives what only its types define: the uuid as it prints one,
  // the metadata as jsonb prints it, the time at "createdAt"'s precision.
  // The texts are the event's own (checked UTF-8 without NUL: the JSON
  // array carries them unchanged), an empty optional one is NULL.
  const pqxx::result r = txn.exec_params(
      R"(SELECT (e->>'event_id')::uuid::text AS event_id,
                NULLIF(e->'metadata', '{}'::jsonb)::text AS metadata,
                (extract(epoch from
                   ((e->>'change_time')::timestamptz AT TIME ZONE 'UTC')::timestamp(3))
                 * 1000000)::bigint AS created_micros
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, ord)
         ORDER BY ord)",
      JsonArray(encoded, all));
  auto nullable = [](const std::string& v) {
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  std::vector<RowContent> out;
  out.reserve(r.size());
  for (size_t k = 0; k < r.size(); ++k) {
    const pqxx::row row = r[static_cast<pqxx::result::size_type>(k)];
    const history::v1::StatusChangeEvent& e = batch.events(encoded.index[k]);
    RowContent c;
    c.event_id = row[0].as<std::string>();
    c.booking_id = e.booking_id();
    c.sequence = e.sequence();
    c.from_status = nullable(e.from_status());
    c.to_status = e.to_status();
    c.changed_by = e.changed_by();
    c.reason = nullable(e.reason());
    if (!row[1].is_null()) c.metadata = row[1].as<std::string>();
    c.created_micros = row[2].as<int64_t>();
    c.trace_parent = e.traceparent();
    out.push_back(std::move(c));
  }
  return out;
}

void LockBookings(pqxx::transaction_base& txn, const std::set<std::string>& bookings) {
  // Sorted by key (volatile output is computed after ORDER BY): two
  // transactions locking overlapping sets never wait on each other in a cycle.
  txn.exec_params(R"(SELECT pg_advisory_xact_lock($2, k)
                     FROM (SELECT DISTINCT hashtext(b) AS k
                           FROM jsonb_array_elements_text($1::jsonb) AS t(b)) AS keys
                     ORDER BY k)",
                  JsonTextArray(bookings), kBookingLockClass);
}

namespace {

// The head (last row) of each of the bookings `booking_json` (an SQL
// literal) that history holds: its "BookingStatusHistoryHead" row, or for a
// booking with rows from before step 0014 only, the newest of those.
std::string HeadsSql(const std::string& booking_json) {
  return absl::StrCat(
      R"(SELECT b AS booking_id, COALESCE(hd.sequence, old.sequence) AS sequence,
                COALESCE(hd."toStatus", old."toStatus") AS to_status,
                COALESCE(hd."rowHash", old."rowHash", '\x'::bytea) AS row_hash
         FROM jsonb_array_elements_text()",
      booking_json, R"(::jsonb) AS t(b)
         LEFT JOIN "BookingStatusHistoryHead" hd ON hd."bookingId" = b
         LEFT JOIN LATERAL (SELECT sequence, "toStatus", "rowHash" FROM "BookingStatusHistory" h
                            WHERE hd."bookingId" IS NULL AND )",
      kLegacyUntil, R"( IS NOT NULL
                              AND h."bookingId" = b AND h."recordedAt" <= )",
      kLegacyUntil, R"(
                            ORDER BY sequence DESC LIMIT 1) AS old ON true
         WHERE hd."bookingId" IS NOT NULL OR old.sequence IS NOT NULL)");
}

void ReadHeads(const pqxx::result& r, IngestState& state) {
  const pqxx::row_size_type booking = r.column_number("booking_id"),
                            sequence = r.column_number("sequence"),
                            to_status = r.column_number("to_status"),
                            row_hash = r.column_number("row_hash");
  for (const pqxx::row& row : r) {
    state.heads[row[booking].as<std::string>()] = {row[sequence].as<int64_t>(),
                                                   row[to_status].as<std::string>(),
                                                   pqxx::binarystring(row[row_hash]).str()};
  }
}

// The rows history holds of the events `ids_json` (an SQL literal): found
// by "BookingStatusHistoryEvent" (the row's partition key beside the id),
// and among rows from before step 0014 by the history table's own index.
// "= ANY" of an array (an init plan) probes an index once per id; "IN
// (SELECT ...)" let the planner hash-join a sequential scan of the whole
// table while it was small (0.74 ms a batch at 12,000 rows, measured).
std::string StoredSql(const std::string& ids_json) {
  const std::string ids =
      absl::StrCat(R"("eventId" = ANY (ARRAY(SELECT x::uuid FROM jsonb_array_elements_text()",
                   ids_json, R"(::jsonb) AS t(x))))");
  // Each event's row by a lateral probe (LIMIT 1: never flattened into a
  // join that could scan every partition): its partition key is a parameter.
  return absl::StrCat(R"(SELECT r.* FROM "BookingStatusHistoryEvent" e
      CROSS JOIN LATERAL (SELECT )",
                      kContentColumns, R"( FROM "BookingStatusHistory" h
                          WHERE h."eventId" = e."eventId" AND h."recordedAt" = e."recordedAt"
                          LIMIT 1) AS r
              WHERE e.)",
                      ids, " UNION ALL SELECT ", kContentColumns, R"( FROM "BookingStatusHistory"
              WHERE )",
                      ids, " AND ", kLegacyUntil, R"( IS NOT NULL AND "recordedAt" <= )",
                      kLegacyUntil);
}

void ReadStored(const pqxx::result& r, IngestState& state) {
  const ContentLayout at(r);
  for (const pqxx::row& row : r) {
    RowContent c = ReadContent(row, at);
    state.stored.emplace(c.event_id, std::move(c));
  }
}

// The held-back rows not retired of the bookings (gaps among them:
// held_gap) and of the events (apart from conflicts: held), oldest first.
std::string HeldSql(const std::string& booking_json, const std::string& ids_json) {
  return absl::StrCat("SELECT ", kContentColumns, R"(, "bookingId" = ANY(
                SELECT jsonb_array_elements_text()",
                      booking_json, R"(::jsonb)) AND "heldReason" = 'gap' AS held_gap,
                "heldReason" <> 'conflict' AND
                "eventId" IN (SELECT x::uuid FROM jsonb_array_elements_text()",
                      ids_json, R"(::jsonb) AS t(x))
                  AS held,
                COALESCE("traceParent", '') AS trace_parent
              FROM "BookingStatusHeldBack"
              WHERE "retiredAt" IS NULL AND
                    ("bookingId" IN (SELECT jsonb_array_elements_text()",
                      booking_json, R"(::jsonb)) OR
                     ("heldReason" <> 'conflict' AND "eventId" IN
                        (SELECT x::uuid FROM jsonb_array_elements_text()",
                      ids_json, R"(::jsonb) AS t(x))))
              ORDER BY "heldAt", id)");
}

void ReadHeld(const pqxx::result& r, const std::set<std::string>& bookings, IngestState& state) {
  const ContentLayout at(r);
  const pqxx::row_size_type held_gap = r.column_number("held_gap"), held = r.column_number("held"),
                            trace_parent = r.column_number("trace_parent");
  for (const pqxx::row& row : r) {
    RowContent c = ReadContent(row, at);
    c.trace_parent = row[trace_parent].as<std::string>();
    if (bookings.count(c.booking_id) > 0) state.held_bookings.insert(c.booking_id);
    if (row[held_gap].as<bool>()) state.held_gaps.push_back(c);
    if (row[held].as<bool>()) state.held.emplace(c.event_id, c);
  }
}

}  // namespace

IngestState LoadState(pqxx::transaction_base& txn, const std::set<std::string>& bookings,
                      const std::set<std::string>& event_ids) {
  IngestState state;
  const std::string booking_json = txn.quote(JsonTextArray(bookings));
  const std::string ids_json = txn.quote(JsonTextArray(event_ids));
  // The three reads in one message (one round trip), results apart.
  pqxx::pipeline reads(txn);
  reads.retain(3);
  const pqxx::pipeline::query_id heads = reads.insert(HeadsSql(booking_json));
  const pqxx::pipeline::query_id stored = reads.insert(StoredSql(ids_json));
  const pqxx::pipeline::query_id held = reads.insert(HeldSql(booking_json, ids_json));
  reads.complete();
  ReadHeads(reads.retrieve(heads), state);
  ReadStored(reads.retrieve(stored), state);
  ReadHeld(reads.retrieve(held), bookings, state);
  return state;
}

void InsertRows(pqxx::transaction_base& txn, const std::vector<PlannedRow>& rows) {
  if (rows.empty()) return;
  std::string json = "[";
  for (const PlannedRow& p : rows) {
    if (json.size() > 1) json += ',';
    std::string object = ContentJson(p.content);
    object.pop_back();
    absl::StrAppend(&json, object, ",\"row_hash\":\"", Hex(p.hash), "\"}");
  }
  json += "]";
  // One statement: the rows in the batch's order (the function scan yields
  // the array in order), queued for the feed's sequencer in that order as
  // one queue row with their recorded times (RETURNING yields the rows as
  // inserted, both array_aggs take them as they come, one order), then a wake-up for the sequencers
  // (delivered on commit, to every replica's).
  txn.exec_params(absl::StrCat(R"(WITH inserted AS (
           INSERT INTO "BookingStatusHistory" ()",
                               kContentInsertColumns, R"(, "rowHash")
           SELECT )",
                               kContentValues, R"(, decode(r.row_hash, 'hex')
           FROM jsonb_to_recordset($1::jsonb) AS r()",
                               kContentRecord, R"(, row_hash text)
           RETURNING id, "recordedAt"),
         queued AS (
           INSERT INTO "BookingStatusHistoryFeedQueue" ("historyIds", "recordedAts")
           SELECT array_agg(id), array_agg("recordedAt") FROM inserted)
         SELECT pg_notify($2, ''))"),
                  json, kFeedQueueChannel);
}

}  // namespace booking
