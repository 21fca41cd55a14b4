#include "history-service/history_store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/store_schema.h"
#include "history-service/history_page.h"
#include "history-service/ingest_encoding.h"
#include "history-service/ingest_store.h"
#include "history-service/log_reads.h"
#include "history-service/verify_booking.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// An attempt this file rolls back on purpose (a row the table refused, to be
// found or left out in the next round) is marked so that it is never taken
// for PgPool's ABORTED, "conflict retries ran out", which is returned as is.
constexpr absl::string_view kRolledBackOnPurpose = "type.booking/history.RolledBackOnPurpose";

absl::Status RolledBackOnPurpose(absl::string_view why) {
  absl::Status s = absl::AbortedError(why);
  s.SetPayload(kRolledBackOnPurpose, absl::Cord());
  return s;
}

bool IsRolledBackOnPurpose(const absl::Status& s) {
  return absl::IsAborted(s) && s.GetPayload(kRolledBackOnPurpose).has_value();
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

history::v1::Disposition DispositionOf(HeldReason reason) {
  switch (reason) {
    case HeldReason::kGap:
      return history::v1::GAP;
    case HeldReason::kFork:
      return history::v1::FORK;
    case HeldReason::kConflict:
      return history::v1::CONFLICT;
  }
  return history::v1::MALFORMED;
}

void Reject(history::v1::IngestAck& ack, const std::string& event_id, std::string why,
            history::v1::Disposition disposition) {
  auto* r = ack.add_rejected();
  r->set_event_id(event_id);
  r->set_reason(std::move(why));
  r->set_disposition(disposition);
}

// The table's own limit on metadata, checked before planning so that the
// plan never counts on a row the table refuses.
std::string TableRefusal(const RowContent& c) {
  if (c.metadata && c.metadata->size() > limits::kMaxStoredMetadataBytes) {
    return absl::StrCat("refused by the history table: metadata is ", c.metadata->size(),
                        " bytes as stored, more than ", limits::kMaxStoredMetadataBytes);
  }
  return "";
}

// The acknowledgement and the held events of a planned batch.
StoredBatch Outcomes(const history::v1::IngestRequest& batch, const EncodedEvents& encoded,
                     std::map<std::string, std::string>& refused,
                     const std::vector<RowContent>& events, const std::vector<int>& event_index,
                     const IngestPlan& plan) {
  StoredBatch out;
  out.promoted = plan.promoted;
  out.ack.set_batch_id(batch.batch_id());
  std::map<int, Decision> by_index;
  for (size_t k = 0; k < events.size(); ++k) by_index[event_index[k]] = plan.decisions[k];
  for (int i = 0; i < batch.events_size(); ++i) {
    const history::v1::StatusChangeEvent& e = batch.events(i);
    if (!encoded.refused[i].empty()) {
      Reject(out.ack, e.event_id(), encoded.refused[i], history::v1::MALFORMED);
      continue;
    }
    auto d = by_index.find(i);
    if (d == by_index.end()) {
      Reject(out.ack, e.event_id(), refused[e.event_id()], history::v1::MALFORMED);
    } else if (d->second.outcome == Outcome::kStored) {
      out.ack.set_stored(out.ack.stored() + 1);
    } else if (d->second.outcome == Outcome::kDuplicate) {
      out.ack.set_duplicates(out.ack.duplicates() + 1);
    } else {
      Reject(out.ack, e.event_id(), d->second.detail, DispositionOf(d->second.reason));
      out.held.push_back(
          {e.event_id(), std::string(HeldReasonName(d->second.reason)), d->second.detail});
      const RowContent& c = events[std::distance(
          event_index.begin(), std::find(event_index.begin(), event_index.end(), i))];
      auto head = plan.head_sequence.find(c.booking_id);
      const bool settled = head != plan.head_sequence.end() && c.sequence <= head->second;
      out.to_hold.push_back({c, d->second.reason, d->second.detail, settled});
      out.to_hold_ack.push_back(out.ack.rejected_size() - 1);
    }
  }
  return out;
}

}  // namespace

// One attempt: plan the batch from what the store holds (under the
// bookings' locks), then write the plan. `refused` (event id -> why) grows
// when the table refuses a row: the attempt is then rolled back and run
// again without it.
absl::StatusOr<StoredBatch> HistoryStore::StoreAttempt(
    pqxx::transaction_base& txn, const history::v1::IngestRequest& batch,
    const EncodedEvents& encoded, std::map<std::string, std::string>& refused) {
  const std::vector<RowContent> normalized = NormalizeEvents(txn, batch, encoded);
  std::vector<RowContent> events;
  std::vector<int> event_index;  // batch index of events[k]
  std::set<std::string> bookings, ids;
  for (size_t k = 0; k < normalized.size(); ++k) {
    const std::string& id = batch.events(encoded.index[k]).event_id();
    if (refused.count(id)) continue;
    if (std::string why = TableRefusal(normalized[k]); !why.empty()) {
      refused.emplace(id, why);
      continue;
    }
    events.push_back(normalized[k]);
    event_index.push_back(encoded.index[k]);
    bookings.insert(normalized[k].booking_id);
    ids.insert(normalized[k].event_id);
  }
  LockBookings(txn, bookings);
  IngestState state = LoadState(txn, bookings, ids);
  const std::set<std::string> held_bookings = state.held_bookings;
  const IngestPlan plan = PlanIngest(events, std::move(state));
  try {
    InsertRows(txn, plan.inserts);
  } catch (const std::exception& e) {
    if (!IsDataError(e)) throw;
    // Not foreseen by TableRefusal: found row by row in the next attempt.
    return RolledBackOnPurpose(e.what());
  }
  SettleHeld(txn, plan.inserts, held_bookings);
  StoredBatch out = Outcomes(batch, encoded, refused, events, event_index, plan);
  for (const PlannedRow& p : plan.inserts) {
    const RowContent& c = p.content;
    out.stored.push_back({c.event_id, c.booking_id, c.sequence, c.trace_parent});
  }
  HoldResult hold = HoldEvents(txn, out.to_hold, limits_);
  out.newly_held = std::move(hold.added);
  for (const auto& [k, why] : hold.refused) {
    history::v1::RejectedEvent* r = out.ack.mutable_rejected(out.to_hold_ack[k]);
    r->set_reason(absl::StrCat(r->reason(), "; not kept by history: ", why));
    out.held[k].detail = r->reason();
    out.refused.push_back(out.held[k]);
  }
  // The counts change only where held rows were settled or added.
  if (!held_bookings.empty() || !out.to_hold.empty()) out.counts = ReadHeldCounts(txn);
  return out;
}

HistoryStore::HistoryStore(PgPool& pool, PgPool& read_pool, HeldBackLimits limits,
                           prometheus::Registry* registry)
    : pool_(pool), read_pool_(read_pool), limits_(limits) {
  if (registry != nullptr) metrics_.emplace(*registry, limits_);
}

absl::Status HistoryStore::RefreshHeldBackGauges(absl::Time deadline) {
  absl::StatusOr<HeldCounts> counts = pool_.RunInTransaction<HeldCounts>(
      [](pqxx::work& txn) -> absl::StatusOr<HeldCounts> { return ReadHeldCounts(txn); }, deadline);
  if (!counts.ok()) return counts.status();
  if (metrics_) metrics_->Set(*counts);
  return absl::OkStatus();
}

void HistoryStore::AfterCommit(const StoredBatch& stored) {
  if (metrics_ && stored.counts.has_value()) metrics_->Set(*stored.counts);
  for (const HeldEventLog& r : stored.refused) {
    if (metrics_) metrics_->Refused(r.reason);
    LogWarning("event not held back: a cap is reached",
               {{"event_id", r.event_id}, {"reason", r.reason}, {"detail", r.detail}});
  }
}

absl::StatusOr<StoredBatch> HistoryStore::StoreBatch(const history::v1::IngestRequest& batch) {
  // What the checks refuse never reaches the table.
  const EncodedEvents encoded = EncodeEvents(batch);
  std::map<std::string, std::string> refused;  // by the table, found one by one
  bool one_by_one = false;
  absl::StatusOr<StoredBatch> result;
  // Each round either stores the batch or finds one more row the table
  // refuses: at most one round per event, plus one.
  for (int round = 0; round <= batch.events_size() + 1; ++round) {
    result =
        pool_.RunInTransaction<StoredBatch>([&](pqxx::work& txn) -> absl::StatusOr<StoredBatch> {
          if (!one_by_one) return StoreAttempt(txn, batch, encoded, refused);
          return FindRefusedRow(txn, batch, encoded, refused);
        });
    if (!IsRolledBackOnPurpose(result.status())) {
      if (result.ok()) AfterCommit(*result);
      return result;
    }
    if (!one_by_one) {
      one_by_one = true;
    } else {
      one_by_one = false;  // one more refused row known: plan again without it
    }
  }
  return result;
}

// Inserts each planned row in a savepoint of its own until the table refuses
// one, which joins `refused`; always rolled back (Aborted) so that the next
// round plans without it.
absl::StatusOr<StoredBatch> HistoryStore::FindRefusedRow(
    pqxx::transaction_base& txn, const history::v1::IngestRequest& batch,
    const EncodedEvents& encoded, std::map<std::string, std::string>& refused) {
  const std::vector<RowContent> normalized = NormalizeEvents(txn, batch, encoded);
  std::vector<RowContent> events;
  std::set<std::string> bookings, ids;
  for (size_t k = 0; k < normalized.size(); ++k) {
    if (refused.count(batch.events(encoded.index[k]).event_id())) continue;
    events.push_back(normalized[k]);
    bookings.insert(normalized[k].booking_id);
    ids.insert(normalized[k].event_id);
  }
  LockBookings(txn, bookings);
  const IngestPlan plan = PlanIngest(events, LoadState(txn, bookings, ids));
  for (const PlannedRow& row : plan.inserts) {
    // By hand: libpqxx 6's subtransaction leaves the transaction aborted
    // after a failed statement.
    txn.exec("SAVEPOINT event");
    try {
      InsertRows(txn, {row});
    } catch (const std::exception& e) {
      if (!IsDataError(e)) throw;
      for (int i : encoded.index) {
        if (absl::AsciiStrToLower(batch.events(i).event_id()) == row.content.event_id) {
          refused.emplace(batch.events(i).event_id(),
                          absl::StrCat("refused by the history table: ", e.what()));
        }
      }
      return RolledBackOnPurpose("a row refused by the table");
    }
    txn.exec("RELEASE SAVEPOINT event");
  }
  return RolledBackOnPurpose("no row refused");
}

absl::StatusOr<history::v1::GetBookingHistoryResponse> HistoryStore::Get(
    const std::string& booking_id, int page_size, int64_t after_sequence, absl::Time deadline) {
  return read_pool_.RunRead<history::v1::GetBookingHistoryResponse>(
      [&](pqxx::connection& conn) {
        return ReadHistoryPage(conn, booking_id, page_size, after_sequence, deadline);
      },
      deadline);
}

absl::StatusOr<history::v1::ListHistoryResponse> HistoryStore::List(const ListPlan& plan,
                                                                    absl::Time deadline) {
  return read_pool_.RunInTransaction<history::v1::ListHistoryResponse>(
      [&](pqxx::work& txn) { return ReadListPage(txn, plan); }, deadline);
}

absl::StatusOr<history::v1::VerifyHistoryResponse> HistoryStore::Verify(
    const std::string& booking_id, absl::Time deadline) {
  // Reads only, each bounded by the deadline in its own message: no BEGIN
  // or COMMIT (as GetBookingHistory), and repeated once on a fresh
  // connection after a store restart.
  return read_pool_.RunRead<history::v1::VerifyHistoryResponse>(
      [&](pqxx::connection& conn) -> absl::StatusOr<history::v1::VerifyHistoryResponse> {
        absl::StatusOr<std::string> bound = DeadlineBoundStatement(deadline);
        if (!bound.ok()) return bound.status();
        pqxx::nontransaction txn(conn);
        return VerifyBooking(txn, booking_id, *bound);
      },
      deadline);
}

absl::StatusOr<history::v1::LogCheckpoint> HistoryStore::LogCheckpoint(absl::Time deadline) {
  return read_pool_.RunRead<history::v1::LogCheckpoint>(
      [&](pqxx::connection& conn) -> absl::StatusOr<history::v1::LogCheckpoint> {
        absl::StatusOr<std::string> bound = DeadlineBoundStatement(deadline);
        if (!bound.ok()) return bound.status();
        pqxx::nontransaction txn(conn);
        return ReadLogCheckpoint(txn, *bound);
      },
      deadline);
}

absl::StatusOr<history::v1::ConsistencyProof> HistoryStore::ConsistencyProof(
    const history::v1::GetConsistencyProofRequest& request, absl::Time deadline) {
  // Reads only, bounded by the deadline, repeated once on a fresh connection
  // after a store restart. The checkpoint is read first: the tiles proving
  // its size only grow after it, so later reads still prove it.
  return read_pool_.RunRead<history::v1::ConsistencyProof>(
      [&](pqxx::connection& conn) -> absl::StatusOr<history::v1::ConsistencyProof> {
        pqxx::read_transaction txn(conn);
        if (absl::Status s = BoundByDeadline(txn, deadline); !s.ok()) return s;
        return ReadConsistencyProof(txn, request);
      },
      deadline);
}

absl::StatusOr<history::v1::GetLogEntriesResponse> HistoryStore::LogEntries(
    const history::v1::GetLogEntriesRequest& request, int limit, absl::Time deadline) {
  return read_pool_.RunRead<history::v1::GetLogEntriesResponse>(
      [&](pqxx::connection& conn) -> absl::StatusOr<history::v1::GetLogEntriesResponse> {
        pqxx::read_transaction txn(conn);
        if (absl::Status s = BoundByDeadline(txn, deadline); !s.ok()) return s;
        return ReadLogEntries(txn, request, limit);
      },
      deadline);
}

absl::Status HistoryStore::Probe(ProbeConnection& probe) {
  return probe.Run([](pqxx::transaction_base& txn) -> absl::Status {
    // The newest columns and table this binary uses stand for the whole
    // schema (the log's tree: step 0012; the queue's batches: step 0013; the
    // global keys: step 0014).
    if (!txn.exec(R"(SELECT EXISTS (SELECT FROM pg_attribute WHERE attname = 'traceParent'
                       AND attrelid = to_regclass('"BookingStatusHistory"'))
                     AND to_regclass('"BookingStatusHistoryTree"') IS NOT NULL
                     AND EXISTS (SELECT FROM pg_attribute WHERE attname = 'historyIds'
                       AND attrelid = to_regclass('"BookingStatusHistoryFeedQueue"'))
                     AND to_regclass('"BookingStatusHistoryKeysStart"') IS NOT NULL AS ready)")
             .front()["ready"]
             .as<bool>()) {
      if (std::string other = OtherStoreIn(ReadSchemaContents(txn), "history", {});
          !other.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("--database-url (HISTORY_DATABASE_URL) points at ", other,
                         ", not at the history store: give it the history database's URL"));
      }
      return absl::FailedPreconditionError(
          "history store schema is missing or old; run `migrator up` against it first");
    }
    return absl::OkStatus();
  });
}

}  // namespace booking
