#include "booking-service/settings.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "booking-service/outbox_relay.h"
#include "common/config.h"
#include "common/limits.h"

ABSL_FLAG(std::string, history_target, "",
          "history-service address HOST:PORT [env HISTORY_TARGET; required]");
ABSL_FLAG(std::string, legacy_status_names, "",
          "accept|reject: whether old status names (JOCKEY_ASSIGNED, ...) are still accepted and "
          "mapped forward [env BOOKING_LEGACY_STATUS_NAMES, default accept]");
ABSL_FLAG(int, relay_batch_size, 500, "largest batch of events sent to history-service at once");
ABSL_FLAG(int, ingest_streams, booking::kDefaultIngestStreams,
          "Ingest streams the relay keeps open to history-service, each relaying its own share of "
          "the bookings (1..64)");

namespace booking {
namespace {

constexpr char kUsage[] = R"(owns bookings and their status.

Every status change is checked against the state machine and committed with its
event in one transaction (an outbox); a relay streams the events to
history-service, which stores each exactly once. If history-service is down,
bookings keep working and events wait in the outbox.

  booking-service --database-url postgresql://... --history-target localhost:50052

Serves booking.v1.BookingService, grpc.health.v1.Health (SERVING while the
booking store is reachable and migrated) and server reflection. SIGTERM drains.
The schema comes from `migrator up`; this service never runs DDL.)";

}  // namespace

ServiceSpec BookingServiceSpec() {
  return {.name = "booking-service",
          .env_prefix = "BOOKING",
          .default_listen = "0.0.0.0:50051",
          .table = "Booking",
          .usage = kUsage,
          .pool_help = "booking store connections used by calls",
          .drained = "in-flight calls",
          .drain_timeout = absl::Seconds(20),
          .max_receive_message_bytes = limits::kMaxBookingRequestBytes,
          .also_required = "--history-target (or HISTORY_TARGET)",
          .lock_timeout_ms = 5000};
}

absl::StatusOr<BookingSettings> ReadBookingSettings() {
  BookingSettings settings{.history_target = FlagOrEnv(FLAGS_history_target, "HISTORY_TARGET"),
                           .relay_batch_size = absl::GetFlag(FLAGS_relay_batch_size),
                           .ingest_streams = absl::GetFlag(FLAGS_ingest_streams)};
  if (settings.history_target.empty()) return MissingRequired(BookingServiceSpec());
  if (settings.ingest_streams < 1 || settings.ingest_streams > kMaxRelayStreams) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ingest-streams must be between 1 and ", kMaxRelayStreams, ", not ",
                     settings.ingest_streams, " (", kDefaultIngestStreams, " is the default)"));
  }
  const std::string legacy = FlagOrEnv(FLAGS_legacy_status_names, "BOOKING_LEGACY_STATUS_NAMES");
  if (!legacy.empty() && legacy != "accept" && legacy != "reject") {
    return absl::InvalidArgumentError(
        absl::StrCat("--legacy-status-names must be accept or reject, not \"", legacy, "\""));
  }
  if (legacy == "reject") settings.legacy_names = LegacyNames::kReject;
  return settings;
}

}  // namespace booking
