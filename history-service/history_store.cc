#include "history-service/history_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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

absl::StatusOr<history::v1::IngestAck> HistoryStore::StoreBatch(
    const history::v1::IngestRequest& batch) {
  history::v1::IngestAck ack;
  absl::Status status = pool_.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
    ack.Clear();
    ack.set_batch_id(batch.batch_id());
    for (const history::v1::StatusChangeEvent& e : batch.events()) {
      if (std::string why = ValidateEvent(e); !why.empty()) {
        auto* r = ack.add_rejected();
        r->set_event_id(e.event_id());
        r->set_reason(why);
        continue;
      }
      std::string metadata;
      if (e.has_metadata() && e.metadata().fields_size() > 0) {
        if (!google::protobuf::util::MessageToJsonString(e.metadata(), &metadata).ok() ||
            metadata.size() > kMaxMetadataBytes) {
          auto* r = ack.add_rejected();
          r->set_event_id(e.event_id());
          r->set_reason("metadata is not JSON of at most 16 KiB");
          continue;
        }
      }
      pqxx::result inserted = txn.exec_params(
          R"(INSERT INTO "BookingStatusHistory"
               ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason,
                metadata, "createdAt")
             VALUES ($1::uuid, $2, $3, NULLIF($4, ''), $5, $6, NULLIF($7, ''),
                     NULLIF($8, '')::jsonb, to_timestamp($9::double precision / 1000000) AT TIME ZONE 'UTC')
             ON CONFLICT DO NOTHING
             RETURNING id)",
          e.event_id(), e.booking_id(), e.sequence(), e.from_status(), e.to_status(),
          e.changed_by(), e.reason(), metadata, TimeUtil::TimestampToMicroseconds(e.change_time()));
      if (!inserted.empty()) {
        ack.set_stored(ack.stored() + 1);
        continue;
      }
      // Either this event was stored before (a resend), or another event
      // already holds its place in the booking's sequence.
      pqxx::result seen = txn.exec_params(
          R"(SELECT 1 FROM "BookingStatusHistory" WHERE "eventId" = $1::uuid)", e.event_id());
      if (!seen.empty()) {
        ack.set_duplicates(ack.duplicates() + 1);
      } else {
        auto* r = ack.add_rejected();
        r->set_event_id(e.event_id());
        r->set_reason(absl::StrCat("sequence ", e.sequence(), " of booking ", e.booking_id(),
                                   " is already recorded by another event"));
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return ack;
}

absl::StatusOr<history::v1::GetBookingHistoryResponse> HistoryStore::Get(
    const std::string& booking_id, int page_size, int64_t after_sequence) {
  history::v1::GetBookingHistoryResponse response;
  absl::Status status = pool_.Run([&](pqxx::connection& conn) -> absl::Status {
    pqxx::read_transaction txn(conn);
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
  });
  if (!status.ok()) return status;
  return response;
}

absl::Status HistoryStore::Probe() {
  return pool_.Run([](pqxx::connection& conn) -> absl::Status {
    pqxx::read_transaction txn(conn);
    if (txn.exec(R"(SELECT to_regclass('"BookingStatusHistory"') IS NULL)")[0][0].as<bool>()) {
      return absl::FailedPreconditionError(
          "history store schema is missing; run `migrator up` against it first");
    }
    return absl::OkStatus();
  });
}

}  // namespace booking
