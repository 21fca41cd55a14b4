// history-service's own settings: what sets it apart in the shared service
// startup (common/service_startup.h), the flags only it has (read bounds,
// the watch feed, held-back caps, checkpoint and page-token keys), and its
// store's pools.
#ifndef BOOKING_HISTORY_SERVICE_SETTINGS_H_
#define BOOKING_HISTORY_SERVICE_SETTINGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pg.h"
#include "common/service_startup.h"
#include "common/tlog/note_key.h"
#include "history-service/checkpoint.h"
#include "history-service/feed_sequencer.h"
#include "history-service/history_service.h"
#include "history-service/ingest_held.h"
#include "history-service/watch_hub.h"

namespace booking {

ServiceSpec HistoryServiceSpec();

struct HistorySettings {
  int ingest_pool_size = 4;
  ReadBounds reads;
  WatchHub::Options watch = {};
  FeedSequencer::Options sequencer = {};
  HeldBackLimits held_back = {};
  std::optional<SigningKey> checkpoint_key = {};    // none: no checkpoints
  absl::Duration checkpoint_interval;               // zero: heads checkpoints not signed
  std::optional<tlog::NoteSigner> log_signer = {};  // with checkpoint_key, under --log-origin
  absl::Duration log_checkpoint_interval = absl::Seconds(1);
};

// Every flag of its own checked (with --db-pool-size) and the checkpoint key
// loaded; INVALID_ARGUMENT naming the flag.
absl::StatusOr<HistorySettings> ReadHistorySettings(const ServiceSettings& shared);

// Installs the page and resume tokens' key from --page-token-key (or
// HISTORY_PAGE_TOKEN_KEY), or logs a warning that a random key of this
// process signs them; an error naming the file when it cannot be read.
absl::Status InstallPageTokenKey();

// The store's connections, a pool per kind of work: readers, however many
// and however slow, cannot take the connections Ingest, the watch feed or
// the checkpointer need. Connections open on first use.
//
// Thread-safety: each PgPool is safe to share between threads.
struct StorePools {
  StorePools(ServiceStartup& startup, const HistorySettings& settings);

  PgPool reads;       // GetBookingHistory, ListHistory, VerifyHistory
  PgPool ingest;      // Ingest alone
  PgPool watch;       // the watch feed's reader (one thread)
  PgPool checkpoint;  // the checkpointer (one thread)
};

}  // namespace booking

#endif  // BOOKING_HISTORY_SERVICE_SETTINGS_H_
