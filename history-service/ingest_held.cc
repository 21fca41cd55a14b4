#include "history-service/ingest_held.h"

#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// A place's events in one batch: the first, the last, how many, and whether
// any differs from the first.
struct Place {
  size_t first = 0;
  size_t last = 0;
  int times = 0;
  bool other = false;
  std::vector<size_t> members;
};

std::string PlaceKey(const std::string& booking, int64_t sequence, absl::string_view reason) {
  return absl::StrCat(booking.size(), ":", booking, ":", sequence, ":", reason);
}

std::string PlaceKey(const HeldRow& h) {
  return PlaceKey(h.content.booking_id, h.content.sequence, HeldReasonName(h.reason));
}

absl::StatusOr<int64_t> Positive(const std::string& text, const char* flag, int64_t fallback) {
  if (text.empty()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be a positive integer, not \"", text, "\""));
  }
  return value;
}

// The batch's places already in the table (held or retired), by PlaceKey.
std::set<std::string> ExistingPlaces(pqxx::transaction_base& txn, const std::vector<HeldRow>& held,
                                     const std::vector<size_t>& firsts) {
  std::string json = "[";
  for (size_t k : firsts) {
    const HeldRow& h = held[k];
    if (json.size() > 1) json += ',';
    absl::StrAppend(&json, "{\"b\":", JsonString(h.content.booking_id),
                    ",\"s\":", h.content.sequence, ",\"r\":\"", HeldReasonName(h.reason), "\"}");
  }
  json += "]";
  const pqxx::result r = txn.exec_params(
      R"(SELECT h."bookingId" AS booking_id, h.sequence AS sequence, h."heldReason" AS held_reason
         FROM jsonb_to_recordset($1::jsonb) AS r(b text, s bigint, r text)
         JOIN "BookingStatusHeldBack" h
           ON h."bookingId" = r.b AND h.sequence = r.s AND h."heldReason" = r.r)",
      json);
  const pqxx::row_size_type booking = r.column_number("booking_id"),
                            sequence = r.column_number("sequence"),
                            reason = r.column_number("held_reason");
  std::set<std::string> out;
  for (const pqxx::row& row : r) {
    out.insert(PlaceKey(row[booking].as<std::string>(), row[sequence].as<int64_t>(),
                        row[reason].as<std::string>()));
  }
  return out;
}

// Held rows of each of `bookings` (bounded by the per-booking cap).
std::map<std::string, int64_t> HeldPerBooking(pqxx::transaction_base& txn,
                                              const std::set<std::string>& bookings) {
  std::string json = "[";
  for (const std::string& b : bookings) {
    if (json.size() > 1) json += ',';
    json += JsonString(b);
  }
  json += "]";
  const pqxx::result r = txn.exec_params(
      R"(SELECT "bookingId" AS booking_id, count(*) AS held FROM "BookingStatusHeldBack"
         WHERE "retiredAt" IS NULL
           AND "bookingId" IN (SELECT jsonb_array_elements_text($1::jsonb))
         GROUP BY 1)",
      json);
  const pqxx::row_size_type booking = r.column_number("booking_id"), held = r.column_number("held");
  std::map<std::string, int64_t> out;
  for (const pqxx::row& row : r) out[row[booking].as<std::string>()] = row[held].as<int64_t>();
  return out;
}

// Which of the places (by their first event) are kept: settled ones and
// places already in the table always; a new held place while both caps allow.
std::map<size_t, std::string> OverCap(pqxx::transaction_base& txn, const std::vector<HeldRow>& held,
                                      const std::vector<size_t>& firsts,
                                      const HeldBackLimits& limits) {
  std::map<size_t, std::string> refused;
  std::set<std::string> bookings;
  for (size_t k : firsts) {
    if (!held[k].settled) bookings.insert(held[k].content.booking_id);
  }
  if (bookings.empty()) return refused;
  const std::set<std::string> existing = ExistingPlaces(txn, held, firsts);
  std::map<std::string, int64_t> per_booking = HeldPerBooking(txn, bookings);
  int64_t total = txn.exec(R"(SELECT held AS held FROM "BookingStatusHeldBackCount" FOR UPDATE)")
                      .front()["held"]
                      .as<int64_t>();
  for (size_t k : firsts) {
    const HeldRow& h = held[k];
    if (h.settled || existing.count(PlaceKey(h)) > 0) continue;
    int64_t& mine = per_booking[h.content.booking_id];
    if (mine >= limits.per_booking) {
      refused[k] = absl::StrCat("booking ", h.content.booking_id, " has ", mine,
                                " events held back, the most --held-back-per-booking allows");
    } else if (total >= limits.max_rows) {
      refused[k] = absl::StrCat("history holds ", total,
                                " events back, the most --held-back-max-rows allows");
    } else {
      ++mine;
      ++total;
    }
  }
  return refused;
}

std::string HoldJson(const std::vector<HeldRow>& held, const std::vector<size_t>& firsts,
                     const std::map<size_t, Place>& places) {
  std::string json = "[";
  for (size_t k : firsts) {
    const Place& p = places.at(k);
    const HeldRow& h = held[k];
    const HeldRow& last = held[p.last];
    if (json.size() > 1) json += ',';
    std::string object = ContentJson(h.content);
    object.pop_back();
    absl::StrAppend(
        &json, object, ",\"held_reason\":\"", HeldReasonName(h.reason),
        "\",\"detail\":", JsonString(h.detail), ",\"digest\":\"", Hex(ContentDigest(h.content)),
        "\",\"times\":", p.times, ",\"other\":", p.other ? "true" : "false",
        ",\"last_event_id\":", JsonString(last.content.event_id), ",\"last_digest\":\"",
        Hex(ContentDigest(last.content)), "\",\"last_detail\":", JsonString(last.detail),
        ",\"last_content\":", ContentJson(last.content),
        ",\"settled\":", h.settled ? "true" : "false", "}");
  }
  return json + "]";
}

}  // namespace

absl::StatusOr<HeldBackLimits> ParseHeldBackLimits(const std::string& per_booking,
                                                   const std::string& max_rows) {
  HeldBackLimits limits;
  absl::StatusOr<int64_t> n = Positive(per_booking, "held-back-per-booking", limits.per_booking);
  if (!n.ok()) return n.status();
  limits.per_booking = *n;
  n = Positive(max_rows, "held-back-max-rows", limits.max_rows);
  if (!n.ok()) return n.status();
  limits.max_rows = *n;
  return limits;
}

HoldResult HoldEvents(pqxx::transaction_base& txn, const std::vector<HeldRow>& held,
                      const HeldBackLimits& limits) {
  HoldResult out;
  if (held.empty()) return out;
  std::map<std::string, size_t> first_of;  // PlaceKey -> its first event
  std::map<size_t, Place> places;          // by first event
  std::vector<size_t> firsts;
  for (size_t k = 0; k < held.size(); ++k) {
    auto [it, fresh] = first_of.emplace(PlaceKey(held[k]), k);
    if (fresh) firsts.push_back(k);
    Place& p = places[it->second];
    p.first = it->second;
    p.last = k;
    ++p.times;
    p.other = p.other || held[k].content != held[p.first].content;
    p.members.push_back(k);
  }
  const std::map<size_t, std::string> refused = OverCap(txn, held, firsts, limits);
  std::vector<size_t> kept;
  for (size_t k : firsts) {
    auto r = refused.find(k);
    if (r == refused.end()) {
      kept.push_back(k);
      continue;
    }
    for (size_t member : places[k].members) out.refused.emplace_back(member, r->second);
  }
  if (kept.empty()) return out;
  pqxx::result r = txn.exec_params(
      absl::StrCat(R"(INSERT INTO "BookingStatusHeldBack" AS h ()", kContentInsertColumns,
                   R"(, "heldReason", detail, "contentDigest", "timesSeen", "sawOtherContent",
            "lastEventId", "lastDigest", "lastDetail", "lastContent", "retiredAt", outcome)
         SELECT )",
                   kContentValues, R"(, r.held_reason, r.detail, decode(r.digest, 'hex'), r.times,
                r.other, r.last_event_id, decode(r.last_digest, 'hex'), r.last_detail,
                r.last_content, CASE WHEN r.settled THEN now() END,
                CASE WHEN r.settled THEN 'superseded' END
         FROM jsonb_to_recordset($1::jsonb) AS r()",
                   kContentRecord, R"(, held_reason text, detail text, digest text, times bigint,
                other boolean, last_event_id uuid, last_digest text, last_detail text,
                last_content jsonb, settled boolean)
         ON CONFLICT ("bookingId", sequence, "heldReason") DO UPDATE
           SET "lastSeenAt" = now(), "timesSeen" = h."timesSeen" + EXCLUDED."timesSeen",
               "sawOtherContent" = h."sawOtherContent" OR EXCLUDED."sawOtherContent"
                                   OR EXCLUDED."contentDigest" <> h."contentDigest",
               "lastEventId" = EXCLUDED."lastEventId", "lastDigest" = EXCLUDED."lastDigest",
               "lastDetail" = EXCLUDED."lastDetail", "lastContent" = EXCLUDED."lastContent",
               "retiredAt" = COALESCE(h."retiredAt", EXCLUDED."retiredAt"),
               outcome = COALESCE(h.outcome, EXCLUDED.outcome)
         RETURNING "heldReason" AS held_reason, xmax = 0 AS added)"),
      HoldJson(held, kept, places));
  const pqxx::row_size_type reason = r.column_number("held_reason"),
                            added = r.column_number("added");
  for (const pqxx::row& row : r) {
    if (row[added].as<bool>()) ++out.added[row[reason].as<std::string>()];
  }
  return out;
}

void SettleHeld(pqxx::transaction_base& txn, const std::vector<PlannedRow>& stored,
                const std::set<std::string>& held_bookings) {
  std::string json = "[";
  for (const PlannedRow& p : stored) {
    if (held_bookings.count(p.content.booking_id) == 0) continue;
    if (json.size() > 1) json += ',';
    absl::StrAppend(&json, "{\"b\":", JsonString(p.content.booking_id),
                    ",\"s\":", p.content.sequence, ",\"e\":", JsonString(p.content.event_id), "}");
  }
  if (json.size() == 1) return;
  json += "]";
  // Its own gap, nothing else ever seen there: history's row is the record.
  txn.exec_params(R"(DELETE FROM "BookingStatusHeldBack" h
                     USING jsonb_to_recordset($1::jsonb) AS r(b text, s bigint, e uuid)
                     WHERE h."bookingId" = r.b AND h.sequence = r.s AND h."retiredAt" IS NULL
                       AND h."eventId" = r.e AND NOT h."sawOtherContent")",
                  json);
  txn.exec_params(R"(UPDATE "BookingStatusHeldBack" h
                     SET "retiredAt" = now(),
                         outcome = CASE WHEN h."eventId" = r.e THEN 'stored' ELSE 'superseded' END
                     FROM jsonb_to_recordset($1::jsonb) AS r(b text, s bigint, e uuid)
                     WHERE h."bookingId" = r.b AND h.sequence = r.s AND h."retiredAt" IS NULL)",
                  json);
}

HeldCounts ReadHeldCounts(pqxx::transaction_base& txn) {
  pqxx::result r =
      txn.exec(R"(SELECT held AS held, retired AS retired FROM "BookingStatusHeldBackCount")");
  if (r.empty()) return {};
  return {r.front()["held"].as<int64_t>(), r.front()["retired"].as<int64_t>()};
}

HeldBackMetrics::HeldBackMetrics(prometheus::Registry& registry, const HeldBackLimits& limits)
    : held_(prometheus::BuildGauge()
                .Name("history_held_back_rows")
                .Help("held-back events not retired (gaps waiting, forks and conflicts at places "
                      "history has not stored), as \"BookingStatusHeldBackCount\" counts them")
                .Register(registry)
                .Add({})),
      retired_(prometheus::BuildGauge()
                   .Name("history_held_back_retired_rows")
                   .Help("held-back rows kept as a record after history stored their place")
                   .Register(registry)
                   .Add({})),
      refused_(prometheus::BuildCounter()
                   .Name("history_held_back_refused_total")
                   .Help("events not kept in the held-back table, a cap reached, by reason")
                   .Register(registry)) {
  prometheus::BuildGauge()
      .Name("history_held_back_max_rows")
      .Help("--held-back-max-rows: held-back events beyond which new ones are refused")
      .Register(registry)
      .Add({})
      .Set(static_cast<double>(limits.max_rows));
  for (const char* reason : {"gap", "fork", "conflict"}) refused_.Add({{"reason", reason}});
}

void HeldBackMetrics::Set(const HeldCounts& counts) {
  held_.Set(static_cast<double>(counts.held));
  retired_.Set(static_cast<double>(counts.retired));
}

}  // namespace booking
