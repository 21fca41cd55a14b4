#include "history-service/ingest_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_string.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// The advisory lock class of history bookings (any constant of our own).
constexpr int kBookingLockClass = 0x4853;  // "HS"
// The feed's order: one lock (class "HF", key 0) for every position taken.
constexpr int kFeedLockClass = 0x4846;

std::string JsonTextArray(const std::set<std::string>& values) {
  std::string out = "[";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += JsonString(v);
  }
  return out + "]";
}

}  // namespace

std::vector<RowContent> NormalizeEvents(pqxx::transaction_base& txn, const EncodedEvents& encoded) {
  std::vector<int> all(encoded.json.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int>(k);
  // The content named as in kContentColumns, then trace_parent.
  const pqxx::result r = txn.exec_params(
      R"(SELECT (e->>'event_id')::uuid::text AS event_id, e->>'booking_id' AS booking_id,
                (e->>'sequence')::bigint AS sequence, NULLIF(e->>'from_status', '') AS from_status,
                e->>'to_status' AS to_status, e->>'changed_by' AS changed_by,
                NULLIF(e->>'reason', '') AS reason,
                NULLIF(e->'metadata', '{}'::jsonb)::text AS metadata,
                (extract(epoch from
                   ((e->>'change_time')::timestamptz AT TIME ZONE 'UTC')::timestamp(3))
                 * 1000000)::bigint AS created_micros,
                e->>'traceparent' AS trace_parent
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, ord)
         ORDER BY ord)",
      JsonArray(encoded, all));
  const ContentLayout at(r);
  const pqxx::row_size_type trace_parent = r.column_number("trace_parent");
  std::vector<RowContent> out;
  out.reserve(r.size());
  for (const pqxx::row& row : r) {
    out.push_back(ReadContent(row, at));
    out.back().trace_parent = row[trace_parent].as<std::string>();
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

// The head (last row) of each of `bookings` that history holds.
void ReadHeads(pqxx::transaction_base& txn, const std::string& booking_json, IngestState& state) {
  const pqxx::result r = txn.exec_params(
      R"(SELECT b AS booking_id, h.sequence AS sequence, h."toStatus" AS to_status,
                COALESCE(h."rowHash", '\x'::bytea) AS row_hash
         FROM jsonb_array_elements_text($1::jsonb) AS t(b)
         CROSS JOIN LATERAL (SELECT sequence, "toStatus", "rowHash"
                             FROM "BookingStatusHistory" WHERE "bookingId" = b
                             ORDER BY sequence DESC LIMIT 1) AS h)",
      booking_json);
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

// The rows history holds of `event_ids`.
void ReadStored(pqxx::transaction_base& txn, const std::string& ids_json, IngestState& state) {
  const pqxx::result r =
      txn.exec_params(absl::StrCat("SELECT ", kContentColumns, R"( FROM "BookingStatusHistory"
              WHERE "eventId" IN (SELECT x::uuid FROM jsonb_array_elements_text($1::jsonb) AS t(x)))"),
                      ids_json);
  const ContentLayout at(r);
  for (const pqxx::row& row : r) {
    RowContent c = ReadContent(row, at);
    state.stored.emplace(c.event_id, std::move(c));
  }
}

// The held-back rows not retired of `bookings` (gaps among them: held_gap)
// and of `event_ids` (apart from conflicts: held), oldest first.
void ReadHeld(pqxx::transaction_base& txn, const std::set<std::string>& bookings,
              const std::string& booking_json, const std::string& ids_json, IngestState& state) {
  const pqxx::result r =
      txn.exec_params(absl::StrCat("SELECT ", kContentColumns, R"(, "bookingId" = ANY(
                SELECT jsonb_array_elements_text($1::jsonb)) AND "heldReason" = 'gap' AS held_gap,
                "heldReason" <> 'conflict' AND
                "eventId" IN (SELECT x::uuid FROM jsonb_array_elements_text($2::jsonb) AS t(x))
                  AS held,
                COALESCE("traceParent", '') AS trace_parent
              FROM "BookingStatusHeldBack"
              WHERE "retiredAt" IS NULL AND
                    ("bookingId" IN (SELECT jsonb_array_elements_text($1::jsonb)) OR
                     ("heldReason" <> 'conflict' AND "eventId" IN
                        (SELECT x::uuid FROM jsonb_array_elements_text($2::jsonb) AS t(x))))
              ORDER BY "heldAt", id)"),
                      booking_json, ids_json);
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
  const std::string booking_json = JsonTextArray(bookings);
  const std::string ids_json = JsonTextArray(event_ids);
  ReadHeads(txn, booking_json, state);
  ReadStored(txn, ids_json, state);
  ReadHeld(txn, bookings, booking_json, ids_json, state);
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
  txn.exec_params(absl::StrCat(R"(INSERT INTO "BookingStatusHistory" ()", kContentInsertColumns,
                               R"(, "rowHash")
         SELECT )",
                               kContentValues, R"(, decode(r.row_hash, 'hex')
         FROM jsonb_to_recordset($1::jsonb) AS r()",
                               kContentRecord, ", row_hash text)"),
                  json);
}

void AssignFeedPositions(pqxx::transaction_base& txn, const std::vector<PlannedRow>& rows) {
  if (rows.empty()) return;
  std::vector<std::string> ids;
  for (const PlannedRow& p : rows) ids.push_back(JsonString(p.content.event_id));
  txn.exec_params("SELECT pg_advisory_xact_lock($1, 0)", kFeedLockClass);
  // nextval is computed after the subquery's ORDER BY: positions in insertion
  // order, so a booking's rows in sequence order.
  txn.exec_params(R"(INSERT INTO "BookingStatusHistoryFeed" (position, "historyId")
                     SELECT nextval('"BookingStatusHistoryFeed_position_seq"'), id
                     FROM (SELECT h.id FROM jsonb_array_elements_text($1::jsonb)
                                              WITH ORDINALITY AS t(e, ord)
                           JOIN "BookingStatusHistory" h ON h."eventId" = t.e::uuid
                           ORDER BY t.ord) AS inserted)",
                  absl::StrCat("[", absl::StrJoin(ids, ","), "]"));
  txn.exec("NOTIFY history_feed");  // delivered on commit, to every replica's listener
}

}  // namespace booking
