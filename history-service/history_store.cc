#include "history-service/history_store.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/limits.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "history-service/ingest_encoding.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

// Inserts the encoded events at `which` (positions in encoded.json) in one
// statement; returns the ids inserted now (not those stored before).
std::set<std::string> Insert(pqxx::transaction_base& txn, const EncodedEvents& encoded,
                             const std::vector<int>& which) {
  pqxx::result r = txn.exec_params(
      R"(INSERT INTO "BookingStatusHistory"
           ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason,
            metadata, "createdAt")
         SELECT e.event_id, e.booking_id, e.sequence, NULLIF(e.from_status, ''), e.to_status,
                e.changed_by, NULLIF(e.reason, ''), NULLIF(e.metadata, '{}'::jsonb),
                e.change_time AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb) AS e(
                event_id uuid, booking_id text, sequence bigint, from_status text,
                to_status text, changed_by text, reason text, metadata jsonb,
                change_time timestamptz)
         ON CONFLICT DO NOTHING
         RETURNING "eventId"::text)",
      JsonArray(encoded, which));
  std::set<std::string> inserted;
  for (const pqxx::row& row : r) inserted.insert(row[0].as<std::string>());
  return inserted;
}

// An error about the data of a row (SQLSTATE classes 22 data exception, 23
// integrity, 54 program limit): the table refuses that event whatever is
// retried, unlike a lost connection.
bool IsDataError(const std::exception& e) {
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  if (sql == nullptr) return false;
  const std::string& state = sql->sqlstate();
  return absl::StartsWith(state, "22") || absl::StartsWith(state, "23") ||
         absl::StartsWith(state, "54");
}

struct Inserted {
  std::set<std::string> ids;                   // inserted now
  std::map<std::string, std::string> refused;  // event id -> the table's reason
};

// Each event in a savepoint of its own: those the table refuses are known
// by name, the others are stored.
Inserted InsertOneByOne(pqxx::transaction_base& txn, const history::v1::IngestRequest& batch,
                        const EncodedEvents& encoded) {
  Inserted out;
  for (size_t k = 0; k < encoded.json.size(); ++k) {
    // By hand: libpqxx 6's subtransaction leaves the transaction aborted
    // after a failed statement.
    txn.exec("SAVEPOINT event");
    try {
      out.ids.merge(Insert(txn, encoded, {static_cast<int>(k)}));
    } catch (const std::exception& ex) {
      if (!IsDataError(ex)) throw;
      out.refused.emplace(batch.events(encoded.index[k]).event_id(), ex.what());
      txn.exec("ROLLBACK TO SAVEPOINT event");
    }
    txn.exec("RELEASE SAVEPOINT event");
  }
  return out;
}

// Of the events not inserted now, those whose id is stored (by this batch
// or before, maybe by a transaction that committed while this one waited: a
// new statement sees it).
std::set<std::string> StoredBefore(pqxx::transaction_base& txn,
                                   const history::v1::IngestRequest& batch,
                                   const EncodedEvents& encoded, const Inserted& inserted) {
  std::vector<std::string> ids;
  for (int i : encoded.index) {
    const std::string& id = batch.events(i).event_id();
    if (!inserted.ids.count(id) && !inserted.refused.count(id)) ids.push_back(id);
  }
  std::set<std::string> stored;
  if (ids.empty()) return stored;
  pqxx::result r = txn.exec_params(
      R"(SELECT "eventId"::text FROM "BookingStatusHistory"
         WHERE "eventId" = ANY(string_to_array($1, ',')::uuid[]))",
      absl::StrJoin(ids, ","));
  for (const pqxx::row& row : r) stored.insert(row[0].as<std::string>());
  return stored;
}

// The acknowledgement: each event stored, a duplicate, or rejected with why.
history::v1::IngestAck Acknowledge(const history::v1::IngestRequest& batch,
                                   const EncodedEvents& encoded, const Inserted& inserted,
                                   const std::set<std::string>& stored_before) {
  history::v1::IngestAck ack;
  ack.set_batch_id(batch.batch_id());
  std::set<std::string> counted;  // an id twice in a batch is stored once
  for (int i = 0; i < batch.events_size(); ++i) {
    const history::v1::StatusChangeEvent& e = batch.events(i);
    std::string why = encoded.refused[i];
    if (why.empty()) {
      if (auto it = inserted.refused.find(e.event_id()); it != inserted.refused.end()) {
        why = absl::StrCat("refused by the history table: ", it->second);
      } else if (inserted.ids.count(e.event_id()) && counted.insert(e.event_id()).second) {
        ack.set_stored(ack.stored() + 1);
        continue;
      } else if (inserted.ids.count(e.event_id()) || stored_before.count(e.event_id())) {
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
  return ack;
}

}  // namespace

absl::StatusOr<history::v1::IngestAck> HistoryStore::StoreBatch(
    const history::v1::IngestRequest& batch) {
  // What the checks refuse never reaches the table.
  const EncodedEvents encoded = EncodeEvents(batch);
  std::vector<int> all(encoded.json.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int>(k);

  history::v1::IngestAck ack;
  bool one_by_one = false;
  auto store = [&](pqxx::work& txn) -> absl::Status {
    Inserted inserted;
    if (one_by_one) {
      inserted = InsertOneByOne(txn, batch, encoded);
    } else {
      try {
        inserted.ids = Insert(txn, encoded, all);
      } catch (const std::exception& e) {
        if (!IsDataError(e)) throw;
        // An event the checks let through and the table refuses: found one
        // by one in a new transaction, so it is rejected alone.
        one_by_one = true;
        return absl::AbortedError(e.what());  // rolls this attempt back
      }
    }
    ack = Acknowledge(batch, encoded, inserted, StoredBefore(txn, batch, encoded, inserted));
    return absl::OkStatus();
  };
  absl::Status status = pool_.RunInTransaction(store);
  if (one_by_one && !status.ok()) status = pool_.RunInTransaction(store);
  if (!status.ok()) return status;
  return ack;
}

namespace {

// A history row as an entry; INTERNAL when its stored metadata does not parse.
absl::Status ToEntry(const pqxx::row& row, const std::string& booking_id,
                     history::v1::HistoryEntry* e) {
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
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<history::v1::GetBookingHistoryResponse> HistoryStore::Get(
    const std::string& booking_id, int page_size, int64_t after_sequence, absl::Time deadline) {
  return pool_.RunInTransaction<history::v1::GetBookingHistoryResponse>(
      [&](pqxx::work& txn) -> absl::StatusOr<history::v1::GetBookingHistoryResponse> {
        // A page ends at page_size entries or once about kMaxHistoryPageBytes
        // are read, whichever comes first: big metadata makes shorter pages,
        // never a response (or a result held in memory) of many megabytes.
        pqxx::result r = txn.exec_params(
            R"(SELECT id, "eventId", sequence, "fromStatus", "toStatus", "changedBy", reason,
                      metadata, micros, upto
               FROM (SELECT *, sum(size) OVER (ORDER BY sequence ROWS UNBOUNDED PRECEDING) AS upto
                     FROM (SELECT *, 128 + octet_length(metadata) + octet_length(reason) AS size
                           FROM (SELECT id::text, "eventId"::text, sequence,
                                        COALESCE("fromStatus", '') AS "fromStatus", "toStatus",
                                        COALESCE("changedBy", '') AS "changedBy",
                                        COALESCE(reason, '') AS reason,
                                        COALESCE(metadata::text, '') AS metadata,
                                        (extract(epoch from "createdAt") * 1000000)::bigint
                                          AS micros
                                 FROM "BookingStatusHistory"
                                 WHERE "bookingId" = $1 AND sequence > $2
                                 ORDER BY sequence LIMIT $3) AS rows) AS sized) AS page
               WHERE upto - size < $4
               ORDER BY sequence)",
            booking_id, after_sequence, page_size + 1,
            static_cast<int64_t>(limits::kMaxHistoryPageBytes));
        history::v1::GetBookingHistoryResponse response;
        const int taken = std::min<int>(static_cast<int>(r.size()), page_size);
        for (int i = 0; i < taken; ++i) {
          if (absl::Status s = ToEntry(r[i], booking_id, response.add_entries()); !s.ok()) return s;
        }
        const bool more = static_cast<int>(r.size()) > page_size ||
                          (taken > 0 && r[taken - 1][9].as<int64_t>() >=
                                            static_cast<int64_t>(limits::kMaxHistoryPageBytes));
        if (more && taken > 0) {
          response.set_next_page_token(absl::StrCat(response.entries(taken - 1).sequence()));
        }
        return response;
      },
      deadline);
}

absl::Status HistoryStore::Probe(ProbeConnection& probe) {
  return probe.Run([](pqxx::transaction_base& txn) -> absl::Status {
    if (txn.exec(R"(SELECT to_regclass('"BookingStatusHistory"') IS NULL)")[0][0].as<bool>()) {
      return absl::FailedPreconditionError(
          "history store schema is missing; run `migrator up` against it first");
    }
    return absl::OkStatus();
  });
}

}  // namespace booking
