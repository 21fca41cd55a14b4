// history-service: the append-only, immutable status history of bookings.
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/service_startup.h"
#include "history-service/checkpointer.h"
#include "history-service/feed_sequencer.h"
#include "history-service/history_service.h"
#include "history-service/history_store.h"
#include "history-service/settings.h"
#include "history-service/watch_hub.h"

namespace booking {

int Main(int argc, char** argv) {
  ServiceStartup startup(HistoryServiceSpec());
  absl::StatusOr<HistorySettings> own;
  auto read_own = [&own](const ServiceSettings& s) {
    return (own = ReadHistorySettings(s)).status();
  };
  if (std::optional<int> code = startup.Init(argc, argv, read_own)) return *code;
  if (absl::Status s = InstallPageTokenKey(); !s.ok()) {
    LogError(s.message());
    return 2;
  }
  StorePools pools(startup, *own);
  HistoryStore store(pools.ingest, pools.reads, own->held_back, &startup.metrics());
  if (absl::Status s = store.RefreshHeldBackGauges(absl::Now() + absl::Seconds(2)); !s.ok()) {
    // Set by the first ingest batch instead.
    LogWarning("held-back gauges not read at start", {{"error", s.ToString()}});
  }
  // Positions for the watch feed, for rows stored by any replica.
  FeedSequencer sequencer(own->sequencer, startup.metrics());
  sequencer.Start();
  WatchHub watches(pools.watch, own->watch);
  watches.Start();
  HistoryServiceImpl service(store, startup.metrics(), &watches, own->reads);
  std::optional<Checkpointer> checkpointer;
  auto start_checkpoints = [&] {
    if (!own->checkpoint_key.has_value()) return;
    checkpointer.emplace(
        pools.checkpoint,
        Checkpointer::Options{*std::move(own->checkpoint_key), own->checkpoint_interval,
                              *own->log_signer, own->log_checkpoint_interval});
    checkpointer->Start();
  };
  return startup.Serve({{&service, history::v1::HistoryService::service_full_name()}},
                       HistoryStore::Probe,
                       {.started = start_checkpoints, .draining = [&] { service.BeginDrain(); }});
}

}  // namespace booking

int main(int argc, char** argv) { return booking::Main(argc, argv); }
