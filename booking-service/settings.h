// booking-service's own settings: what sets it apart in the shared service
// startup (common/service_startup.h), and the flags only it has: where
// history-service is, the relay's batch, and whether old status names are
// still taken.
#ifndef BOOKING_BOOKING_SERVICE_SETTINGS_H_
#define BOOKING_BOOKING_SERVICE_SETTINGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "booking-service/outbox_relay.h"
#include "booking-service/status_wire.h"
#include "common/service_startup.h"

namespace booking {

ServiceSpec BookingServiceSpec();

struct BookingSettings {
  std::string history_target;  // HOST:PORT
  LegacyNames legacy_names = LegacyNames::kAccept;
  int relay_batch_size = 500;
  int ingest_streams = kDefaultIngestStreams;
};

// From --history-target (or HISTORY_TARGET), --legacy-status-names (or
// BOOKING_LEGACY_STATUS_NAMES), --relay-batch-size and --ingest-streams;
// INVALID_ARGUMENT saying what to pass when the target is missing, the legacy
// setting is neither accept nor reject, or the streams are not 1..64.
absl::StatusOr<BookingSettings> ReadBookingSettings();

}  // namespace booking

#endif  // BOOKING_BOOKING_SERVICE_SETTINGS_H_
