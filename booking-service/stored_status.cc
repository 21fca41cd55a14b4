#include "booking-service/stored_status.h"

#include "absl/strings/str_cat.h"
#include "booking-service/status_wire.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/time_util.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

// 'LABEL' for a label of the catalog (constants: plain upper-case words).
std::string Literal(absl::string_view label) { return absl::StrCat("'", label, "'"); }

}  // namespace

absl::StatusOr<Status> StatusOfRow(const pqxx::row& row) {
  const pqxx::field exact = row["exact_status"];
  return ResolveStoredLabel(row["status"].as<std::string>(),
                            exact.is_null() ? std::string() : exact.as<std::string>());
}

absl::StatusOr<v1::Booking> BookingFromRow(const pqxx::row& row) {
  v1::Booking b;
  b.set_id(row["id"].as<std::string>());
  const pqxx::field customer = row["customer_id"];
  b.set_customer_id(customer.is_null() ? "" : customer.as<std::string>());
  absl::StatusOr<Status> status = StatusOfRow(row);
  if (!status.ok()) return status.status();
  b.set_status(ToWire(*status));
  b.set_version(row["version"].as<int64_t>());
  *b.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row["created_micros"].as<int64_t>());
  *b.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row["updated_micros"].as<int64_t>());
  return b;
}

absl::StatusOr<WriteMode> ReadWriteMode(pqxx::transaction_base& txn) {
  pqxx::result r =
      txn.exec(R"(SELECT phase AS phase, "writeLabels" AS write_labels FROM "StatusMigration")");
  if (r.empty()) return WriteMode();
  return WriteModeOf(r.front()["phase"], r.front()["write_labels"]);
}

absl::StatusOr<WriteMode> WriteModeOfRow(const pqxx::row& row) {
  return WriteModeOf(row["mode_phase"], row["mode_write_labels"]);
}

absl::StatusOr<WriteMode> WriteModeOf(const pqxx::field& phase, const pqxx::field& write_labels) {
  WriteMode mode;
  if (phase.is_null()) return mode;
  if (phase.as<std::string>() == "expanding") {
    return RpcError(absl::StatusCode::kUnavailable,
                    "the booking store's status change is being expanded (or its expand rolled "
                    "back): statuses cannot be written until `migrator expand` finishes; retry "
                    "shortly")
        .Info("STATUS_MIGRATION_EXPANDING", "booking.v1");
  }
  mode.old_labels = write_labels.as<std::string>() == "old";
  return mode;
}

std::string StoredLabel(Status status, const WriteMode& mode) {
  return std::string(mode.old_labels ? ReverseLabel(status) : Label(status));
}

void KeepExactStatus(pqxx::transaction_base& txn, const WriteMode& mode, const std::string& id,
                     Status status, int64_t version) {
  if (!mode.old_labels) return;
  txn.exec_params(R"(INSERT INTO "BookingStatusExact" (id, status, version) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
                                                    version = EXCLUDED.version)",
                  id, std::string(Label(status)), version);
}

std::string ReadsAsCondition(const std::string& param) {
  std::string exact_valid = "(e.status IS NOT NULL AND CASE e.status";
  std::string forward = "CASE b.status::text";
  for (Status s : AllStatuses()) {
    if (ReverseLabel(s) != Label(s)) {
      absl::StrAppend(&exact_valid, " WHEN ", Literal(Label(s)), " THEN ",
                      Literal(ReverseLabel(s)));
    }
  }
  for (LegacyStatus s : AllLegacyStatuses()) {
    absl::StrAppend(&forward, " WHEN ", Literal(Label(s)), " THEN ", Literal(Label(MapForward(s))));
  }
  absl::StrAppend(&exact_valid, " ELSE e.status END = b.status::text)");
  absl::StrAppend(&forward, " ELSE b.status::text END");
  return absl::StrCat("(CASE WHEN ", exact_valid, " THEN e.status ELSE ", forward, " END = ", param,
                      ")");
}

}  // namespace booking
