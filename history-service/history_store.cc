#include "history-service/history_store.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_catalog.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxMetadataBytes = 16 * 1024;
constexpr size_t kMaxTextBytes = 1000;

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// History keeps the label it was given; it must be one the catalog knows.
bool IsKnownLabel(const std::string& label) { return ResolveStoredLabel(label).ok(); }

}  // namespace

std::string ValidateEvent(const history::v1::StatusChangeEvent& e) {
  if (!IsUuid(e.event_id())) return "event_id is not a UUID";
  if (e.booking_id().empty() || e.booking_id().size() > 200) return "booking_id empty or too long";
  if (e.sequence() <= 0) return "sequence must be positive";
  if (!IsKnownLabel(e.to_status()))
    return absl::StrCat("unknown to_status \"", e.to_status(), "\"");
  if (!e.from_status().empty() && !IsKnownLabel(e.from_status())) {
    return absl::StrCat("unknown from_status \"", e.from_status(), "\"");
  }
  if (e.changed_by().empty() || e.changed_by().size() > 200) return "changed_by empty or too long";
  if (e.reason().size() > kMaxTextBytes) return "reason longer than 1000 bytes";
  if (!e.has_change_time()) return "change_time missing";
  if (e.metadata().ByteSizeLong() > kMaxMetadataBytes) return "metadata larger than 16 KiB";
  return "";
}

namespace {

// The batch's events in one statement: PostgreSQL reads them from their
// proto3 JSON (int64 as strings, timestamps as RFC 3339, empty fields
// omitted, hence NULL). Returns the ids of the events inserted now.
std::vector<std::string> InsertEvents(pqxx::transaction_base& txn,
                                      const history::v1::IngestRequest& events) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(events, &json, options).ok()) {
    throw pqxx::internal_error("an ingest batch cannot be written as JSON");
  }
  pqxx::result r = txn.exec_params(
      R"(INSERT INTO "BookingStatusHistory"
           ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason,
            metadata, "createdAt")
         SELECT e.event_id, e.booking_id, e.sequence, NULLIF(e.from_status, ''), e.to_status,
                e.changed_by, NULLIF(e.reason, ''), NULLIF(e.metadata, '{}'::jsonb),
                e.change_time AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb -> 'events') AS e(
                event_id uuid, booking_id text, sequence bigint, from_status text,
                to_status text, changed_by text, reason text, metadata jsonb,
                change_time timestamptz)
         ON CONFLICT DO NOTHING
         RETURNING "eventId"::text)",
      json);
  std::vector<std::string> inserted;
  inserted.reserve(r.size());
  for (const pqxx::row& row : r) inserted.push_back(row[0].as<std::string>());
  return inserted;
}

// An error about the data of a row (SQLSTATE classes 22 and 23): the table
// refuses that event whatever is retried, unlike a lost connection.
bool IsDataError(const std::exception& e) {
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  return sql != nullptr &&
         (absl::StartsWith(sql->sqlstate(), "22") || absl::StartsWith(sql->sqlstate(), "23"));
}

}  // namespace

absl::StatusOr<history::v1::IngestAck> HistoryStore::StoreBatch(
    const history::v1::IngestRequest& batch) {
  // What is checked here never reaches the table.
  std::vector<std::string> invalid(batch.events_size());
  history::v1::IngestRequest valid;
  for (int i = 0; i < batch.events_size(); ++i) {
    const history::v1::StatusChangeEvent& e = batch.events(i);
    invalid[i] = ValidateEvent(e);
    if (invalid[i].empty() && e.has_metadata() && e.metadata().fields_size() > 0) {
      std::string metadata;
      if (!google::protobuf::util::MessageToJsonString(e.metadata(), &metadata).ok() ||
          metadata.size() > kMaxMetadataBytes) {
        invalid[i] = "metadata is not JSON of at most 16 KiB";
      }
    }
    if (invalid[i].empty()) *valid.add_events() = e;
  }

  history::v1::IngestAck ack;
  // Events of the batch the table itself refused (found only when the whole
  // batch failed on one of them and each was tried on its own).
  std::map<std::string, std::string> refused;
  auto store = [&](pqxx::work& txn, bool one_by_one) -> absl::Status {
    ack.Clear();
    ack.set_batch_id(batch.batch_id());
    refused.clear();
    std::set<std::string> inserted;
    if (!one_by_one) {
      for (std::string& id : InsertEvents(txn, valid)) inserted.insert(std::move(id));
    } else {
      for (const history::v1::StatusChangeEvent& e : valid.events()) {
        history::v1::IngestRequest single;
        *single.add_events() = e;
        // A savepoint per event, by hand: libpqxx 6's subtransaction leaves
        // the transaction aborted after a failed statement.
        txn.exec("SAVEPOINT event");
        try {
          for (std::string& id : InsertEvents(txn, single)) inserted.insert(std::move(id));
        } catch (const std::exception& ex) {
          if (!IsDataError(ex)) throw;
          refused.emplace(e.event_id(), ex.what());
          txn.exec("ROLLBACK TO SAVEPOINT event");
        }
        txn.exec("RELEASE SAVEPOINT event");
      }
    }
    // An event not inserted now is a resend if its id is stored (by this
    // batch or before, maybe by a transaction that committed while this one
    // waited: a new statement sees it); otherwise another event holds its
    // place in the booking's sequence.
    std::vector<std::string> not_inserted;
    for (const history::v1::StatusChangeEvent& e : valid.events()) {
      if (!inserted.count(e.event_id()) && !refused.count(e.event_id())) {
        not_inserted.push_back(e.event_id());
      }
    }
    std::set<std::string> stored_before;
    if (!not_inserted.empty()) {
      pqxx::result r = txn.exec_params(
          R"(SELECT "eventId"::text FROM "BookingStatusHistory"
             WHERE "eventId" = ANY(string_to_array($1, ',')::uuid[]))",
          absl::StrJoin(not_inserted, ","));
      for (const pqxx::row& row : r) stored_before.insert(row[0].as<std::string>());
    }
    std::set<std::string> counted;  // an id twice in a batch is stored once
    for (int i = 0; i < batch.events_size(); ++i) {
      const history::v1::StatusChangeEvent& e = batch.events(i);
      std::string why = invalid[i];
      if (why.empty()) {
        if (auto it = refused.find(e.event_id()); it != refused.end()) {
          why = absl::StrCat("refused by the history table: ", it->second);
        } else if (inserted.count(e.event_id()) && counted.insert(e.event_id()).second) {
          ack.set_stored(ack.stored() + 1);
          continue;
        } else if (inserted.count(e.event_id()) || stored_before.count(e.event_id())) {
          ack.set_duplicates(ack.duplicates() + 1);
          continue;
        } else {
          why = absl::StrCat("sequence ", e.sequence(), " of booking ", e.booking_id(),
                             " is already recorded by another event");
        }
      }
      auto* r = ack.add_rejected();
      r->set_event_id(e.event_id());
      r->set_reason(why);
    }
    return absl::OkStatus();
  };

  bool data_error = false;
  absl::Status status = pool_.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
    try {
      return store(txn, /*one_by_one=*/false);
    } catch (const std::exception& e) {
      if (!IsDataError(e)) throw;
      data_error = true;
      return absl::InvalidArgumentError(e.what());  // rolls the batch back
    }
  });
  if (data_error) {
    // One event slipped past validation and the table refuses it: find it
    // (and any other) one by one, so that it is rejected instead of failing
    // every resend of the batch.
    status = pool_.RunInTransaction(
        [&](pqxx::work& txn) -> absl::Status { return store(txn, /*one_by_one=*/true); });
  }
  if (!status.ok()) return status;
  return ack;
}

absl::StatusOr<history::v1::GetBookingHistoryResponse> HistoryStore::Get(
    const std::string& booking_id, int page_size, int64_t after_sequence, absl::Time deadline) {
  history::v1::GetBookingHistoryResponse response;
  absl::Status status = pool_.RunInTransaction(
      [&](pqxx::work& txn) -> absl::Status {
        pqxx::result r = txn.exec_params(
            R"(SELECT id::text, "eventId"::text, sequence, COALESCE("fromStatus", ''), "toStatus",
                  COALESCE("changedBy", ''), COALESCE(reason, ''), COALESCE(metadata::text, ''),
                  (extract(epoch from "createdAt") * 1000000)::bigint
           FROM "BookingStatusHistory"
           WHERE "bookingId" = $1 AND sequence > $2
           ORDER BY sequence LIMIT $3)",
            booking_id, after_sequence, page_size + 1);
        for (int i = 0; i < static_cast<int>(r.size()) && i < page_size; ++i) {
          const pqxx::row& row = r[i];
          history::v1::HistoryEntry* e = response.add_entries();
          e->set_id(row[0].as<std::string>());
          e->set_event_id(row[1].as<std::string>());
          e->set_booking_id(booking_id);
          e->set_sequence(row[2].as<int64_t>());
          e->set_from_status(row[3].as<std::string>());
          e->set_to_status(row[4].as<std::string>());
          e->set_changed_by(row[5].as<std::string>());
          e->set_reason(row[6].as<std::string>());
          const std::string metadata = row[7].as<std::string>();
          if (!metadata.empty() &&
              !google::protobuf::util::JsonStringToMessage(metadata, e->mutable_metadata()).ok()) {
            return absl::InternalError(
                absl::StrCat("stored metadata of entry ", e->id(), " is not a JSON object"));
          }
          *e->mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[8].as<int64_t>());
        }
        if (static_cast<int>(r.size()) > page_size) {
          response.set_next_page_token(absl::StrCat(response.entries(page_size - 1).sequence()));
        }
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  return response;
}

absl::Status HistoryStore::Probe() {
  // In a transaction: retried once on a fresh connection after a store
  // restart, so a stale pooled connection does not flip health.
  return pool_.RunInTransaction([](pqxx::work& txn) -> absl::Status {
    if (txn.exec(R"(SELECT to_regclass('"BookingStatusHistory"') IS NULL)")[0][0].as<bool>()) {
      return absl::FailedPreconditionError(
          "history store schema is missing; run `migrator up` against it first");
    }
    return absl::OkStatus();
  });
}

}  // namespace booking
