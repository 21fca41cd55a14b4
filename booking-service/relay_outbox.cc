#include "booking-service/relay_outbox.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pg.h"
#include "common/store_schema.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace booking {
namespace {

// A booking's partition; hashtext is the server's, the same for every replica.
constexpr char kPartitionOf[] = R"((hashtext("bookingId") & 15))";
static_assert(kRelayPartitions == 16, "kPartitionOf masks with 15");

pqxx::result SelectPending(pqxx::connection& conn, const std::vector<int>& partitions,
                           const std::vector<int64_t>& exclude, int limit) {
  pqxx::read_transaction txn(conn);
  return txn.exec_params(
      absl::StrCat(
          R"(SELECT id, "eventId"::text, "bookingId", sequence, COALESCE("fromStatus", ''),
                    "toStatus", "changedBy", COALESCE(reason, ''), COALESCE(metadata::text, ''),
                    (extract(epoch from "createdAt") * 1000000)::bigint,
                    COALESCE("traceParent", '')
             FROM "BookingOutbox"
             WHERE ($1 = '' OR )",
          kPartitionOf, R"( = ANY(string_to_array($1, ',')::int[]))
               AND ($3 = '' OR id <> ALL(string_to_array($3, ',')::bigint[]))
               AND ("retryAfter" IS NULL OR "retryAfter" <= now())
             ORDER BY id LIMIT $2)"),
      // Owning every partition, no filter is needed.
      static_cast<int>(partitions.size()) == kRelayPartitions ? "" : absl::StrJoin(partitions, ","),
      limit, absl::StrJoin(exclude, ","));
}

// The event of an outbox row; a reason when it cannot be sent as it is.
std::string EventOfRow(const pqxx::row& row, history::v1::StatusChangeEvent& e) {
  e.set_event_id(row[1].as<std::string>());
  e.set_booking_id(row[2].as<std::string>());
  e.set_sequence(row[3].as<int64_t>());
  e.set_from_status(row[4].as<std::string>());
  e.set_to_status(row[5].as<std::string>());
  e.set_changed_by(row[6].as<std::string>());
  e.set_reason(row[7].as<std::string>());
  e.set_traceparent(row[10].as<std::string>());
  *e.mutable_change_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row[9].as<int64_t>());
  const std::string metadata = row[8].as<std::string>();
  // The service writes metadata from a Struct, so it parses back; a row
  // that does not (written by hand, say) would lose its metadata if sent.
  if (!metadata.empty() &&
      !google::protobuf::util::JsonStringToMessage(metadata, e.mutable_metadata()).ok()) {
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

}  // namespace

absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenOutbox(const std::string& url,
                                                             const std::string& schema,
                                                             int statement_timeout_ms) {
  return Connect(url, [&](pqxx::connection& c) {
    UseStoreSchema(c, "Booking", schema);
    c.set_variable("statement_timeout", absl::StrCat(statement_timeout_ms));
  });
}

Batch ReadBatch(pqxx::connection& conn, const std::vector<int>& partitions,
                const std::vector<int64_t>& exclude, const BatchLimits& limits) {
  const size_t max_bytes = static_cast<size_t>(std::max(limits.max_bytes, kBatchOverheadBytes));
  Batch batch;
  size_t bytes = kBatchOverheadBytes;
  for (const pqxx::row& row : SelectPending(conn, partitions, exclude, limits.max_events)) {
    const int64_t outbox_id = row[0].as<int64_t>();
    history::v1::StatusChangeEvent e;
    if (std::string why = EventOfRow(row, e); !why.empty()) {
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
    if (bytes + size > max_bytes) break;  // the next batch takes it
    bytes += size;
    batch.outbox_ids.push_back(outbox_id);
    *batch.request.add_events() = std::move(e);
  }
  return batch;
}

void Settle(pqxx::connection& conn, const std::vector<int64_t>& outbox_ids,
            const google::protobuf::RepeatedPtrField<history::v1::RejectedEvent>& rejected) {
  pqxx::work txn(conn);
  std::vector<std::string> waiting;  // gaps: stay in the outbox
  for (const history::v1::RejectedEvent& r : rejected) {
    if (r.disposition() == history::v1::GAP) {
      // Sent again after a pause that doubles (1 s up to kMaxGapPause); set
      // aside after kMaxGapTries. history-service holds it meanwhile and
      // stores it itself once the missing events arrive.
      pqxx::result kept = txn.exec_params(
          R"(UPDATE "BookingOutbox"
             SET "heldCount" = "heldCount" + 1,
                 "retryAfter" = now() + least(power(2, "heldCount"), $2) * interval '1 second'
             WHERE "eventId" = $1::uuid AND "heldCount" + 1 < $3
             RETURNING id)",
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
    txn.exec_params(
        R"(INSERT INTO "BookingOutboxRejected"
             (id, "eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy",
              reason, metadata, "createdAt", "traceParent", "rejectReason")
           SELECT id, "eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy",
                  reason, metadata, "createdAt", "traceParent", $2
           FROM "BookingOutbox" WHERE "eventId" = $1::uuid
           ON CONFLICT DO NOTHING)",
        r.event_id(), why);
  }
  txn.exec_params(
      R"(DELETE FROM "BookingOutbox" WHERE id = ANY(string_to_array($1, ',')::bigint[])
           AND "eventId"::text <> ALL(string_to_array($2, ',')))",
      absl::StrJoin(outbox_ids, ","), absl::StrJoin(waiting, ","));
  txn.commit();
}

Backlog ReadBacklog(pqxx::connection& conn) {
  pqxx::nontransaction txn(conn);
  pqxx::result r = txn.exec(
      R"(SELECT count(*),
                COALESCE(extract(epoch from timezone('UTC', now()) - min("createdAt")), 0)::float8
         FROM "BookingOutbox")");
  return {.events = r[0][0].as<double>(),
          .oldest_age_seconds = std::max(0.0, r[0][1].as<double>())};
}

}  // namespace booking
