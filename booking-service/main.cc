// booking-service: owns bookings and their status; relays every committed
// status change to history-service.
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "booking-service/auth.h"
#include "booking-service/booking_service.h"
#include "booking-service/booking_store.h"
#include "booking-service/outbox_relay.h"
#include "booking-service/settings.h"
#include "booking-service/status_change_metrics.h"
#include "common/pg.h"
#include "common/service_startup.h"
#include "common/tls.h"

namespace booking {

int Main(int argc, char** argv) {
  ServiceStartup startup(BookingServiceSpec());
  absl::StatusOr<BookingSettings> own;
  auto read_own = [&own](const ServiceSettings&) { return (own = ReadBookingSettings()).status(); };
  if (std::optional<int> code = startup.Init(argc, argv, read_own)) return *code;
  PgPool pool(startup.Pool("booking", startup.settings().pool_size, absl::Seconds(1)));
  StatusChangeMetrics status_changes(startup.metrics());
  BookingStore store(pool, &status_changes);
  const Authenticator auth;
  BookingServiceImpl service(store, auth, own->legacy_names);
  OutboxRelay relay({.database_url = startup.ConnectionUrl(),
                     .database_schema = startup.settings().schema,
                     .history_target = own->history_target,
                     .credentials = ChannelCredentialsFor(startup.tls()),
                     .batch_size = own->relay_batch_size,
                     .streams = own->ingest_streams},
                    startup.metrics());
  return startup.Serve(
      {{&service, v1::BookingService::service_full_name()}}, BookingStore::Probe,
      {.started = [&relay] { relay.Start(); }, .stopped = [&relay] { relay.Stop(); }});
}

}  // namespace booking

int main(int argc, char** argv) { return booking::Main(argc, argv); }
