#include "history-service/settings.h"

#include <sodium.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/limits.h"
#include "common/log.h"
#include "history-service/page_token.h"

ABSL_FLAG(int, db_ingest_pool_size, 4,
          "history store connections for Ingest alone, never used by reads (the checkpointer and "
          "the watch feed have one connection each besides)");
ABSL_FLAG(int, max_reads_per_caller, 2,
          "read calls (GetBookingHistory, ListHistory, VerifyHistory) one principal may run at "
          "once; beyond, a call waits --read-wait for one of them to end, then is refused with "
          "RESOURCE_EXHAUSTED and a RetryInfo (0: no bound)");
ABSL_FLAG(absl::Duration, read_wait, absl::Milliseconds(100),
          "how long a read beyond --max-reads-per-caller waits for a place before it is refused "
          "(never past its deadline; at most half of --grpc-max-threads wait at once): a caller "
          "that ignores RetryInfo is slowed to the pace of one that honours it (0: refuse at "
          "once)");

ABSL_FLAG(int, watch_buffer, booking::limits::kWatchBufferEntries,
          "WatchHistory: entries queued per watcher; one further behind reads on from the store");
ABSL_FLAG(absl::Duration, watch_stall_timeout, absl::Seconds(10),
          "WatchHistory: a watcher whose buffer stays full, nothing read, this long is cut off "
          "(RESOURCE_EXHAUSTED, WATCH_TOO_SLOW) and resumes from its token");

ABSL_FLAG(std::string, held_back_per_booking, "",
          "events one booking may have held back (gaps, forks, conflicts at places history has "
          "not stored); beyond, a new one is not kept [env HISTORY_HELD_BACK_PER_BOOKING, "
          "default 100]");
ABSL_FLAG(std::string, held_back_max_rows, "",
          "events held back in all; beyond, a new one is not kept [env "
          "HISTORY_HELD_BACK_MAX_ROWS, default 100000]");

ABSL_FLAG(std::string, checkpoint_key, "",
          "file holding the Ed25519 seed (hex) that signs checkpoints of the store; make one "
          "with `history-verify keygen --out FILE` [env HISTORY_CHECKPOINT_KEY; default: no "
          "checkpoints]");
ABSL_FLAG(std::string, page_token_key, "",
          "file whose first line (32+ bytes, e.g. `openssl rand -base64 48`) signs page and "
          "resume tokens; further lines are still accepted (rotation). Every replica needs the "
          "same file [env HISTORY_PAGE_TOKEN_KEY; default: a random key per process, so tokens "
          "hold neither across restarts nor across replicas]");
ABSL_FLAG(absl::Duration, checkpoint_interval, absl::ZeroDuration(),
          "how often the older heads checkpoint is also signed (when rows were added since the "
          "last): each signing reads every booking's head, a cost that grows with the store; "
          "the log checkpoint (--log-checkpoint-interval) replaces it [default 0: not signed]");
ABSL_FLAG(std::string, log_origin, "history.booking.internal/log",
          "the origin of the log's checkpoints (C2SP tlog-checkpoint's first line, and the name "
          "of the key that signs them with --checkpoint-key): unique to this log [env "
          "HISTORY_LOG_ORIGIN]");
ABSL_FLAG(absl::Duration, log_checkpoint_interval, absl::Seconds(1),
          "how often the log's checkpoint is signed (when its tree grew since the last)");

namespace booking {
namespace {

// Secure by default: no policy, no start (but plaintext without tokens, a
// mesh's business).
constexpr char kPolicyNeeded[] =
    "without a policy every client certificate of the CA (and every token) could write "
    "history. Pass --authz-policy with a line that lets only the relay Ingest, e.g. \"allow "
    "spiffe://<trust-domain>/booking-service /history.v1.HistoryService/Ingest\" (README "
    "\"Transport security and authorization\")";

constexpr char kUsage[] = R"(the append-only, immutable status history of bookings.

Takes status-change events from booking-service over one long-lived gRPC stream
(history.v1.HistoryService/Ingest), stores each batch in one transaction, each
event id exactly once, and acknowledges it. Answers GetBookingHistory (oldest
first, by the booking's sequence number) and WatchHistory (entries as they are
stored, resumable from a token; see --watch-buffer). The table refuses UPDATE and DELETE
by trigger, whoever connects.

  history-service --database-url postgresql://... --listen 0.0.0.0:50052

Serves grpc.health.v1.Health (SERVING while the history store is reachable and
migrated) and server reflection. SIGTERM drains. The schema comes from
`migrator up`; this service never runs DDL.)";

absl::Status CheckPoolFlags(int pool_size) {
  if (pool_size < 1 || absl::GetFlag(FLAGS_db_ingest_pool_size) < 1 ||
      absl::GetFlag(FLAGS_max_reads_per_caller) < 0 ||
      absl::GetFlag(FLAGS_read_wait) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_read_wait) > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        "--db-pool-size and --db-ingest-pool-size must be at least 1, --max-reads-per-caller at "
        "least 0 (0: no bound), --read-wait from 0 to 10s");
  }
  return absl::OkStatus();
}

absl::StatusOr<WatchHub::Options> WatchSettings(const std::string& database_url) {
  if (absl::GetFlag(FLAGS_watch_buffer) < 1) {
    return absl::InvalidArgumentError("--watch-buffer must be at least 1");
  }
  // Its own connection for LISTEN (a pooled one would miss notifications).
  return WatchHub::Options{
      .listen_url = WithConnectionDefaults(database_url, "history-service-watch"),
      .buffer = absl::GetFlag(FLAGS_watch_buffer),
      .stall = absl::GetFlag(FLAGS_watch_stall_timeout)};
}

}  // namespace

ServiceSpec HistoryServiceSpec() {
  return {.name = "history-service",
          .env_prefix = "HISTORY",
          .default_listen = "0.0.0.0:50052",
          .table = "BookingStatusHistory",
          .usage = kUsage,
          .pool_help =
              "history store connections for reads (GetBookingHistory, ListHistory, VerifyHistory)",
          .drained = "in-flight calls and ingest streams",
          .drain_timeout = absl::Seconds(10),
          // Ingest batches (the relay caps them at limits::kMaxIngestBatchBytes);
          // requests of GetBookingHistory are far smaller.
          .max_receive_message_bytes = limits::kMaxIngestMessageBytes,
          .policy_needed = kPolicyNeeded};
}

absl::StatusOr<HistorySettings> ReadHistorySettings(const ServiceSettings& shared) {
  if (absl::Status pools = CheckPoolFlags(shared.pool_size); !pools.ok()) return pools;
  HistorySettings s{.ingest_pool_size = absl::GetFlag(FLAGS_db_ingest_pool_size),
                    .reads = {.max_per_caller = absl::GetFlag(FLAGS_max_reads_per_caller),
                              .max_wait = absl::GetFlag(FLAGS_read_wait),
                              // the other half runs calls
                              .max_waiting = shared.server.max_threads / 2},
                    .checkpoint_interval = absl::GetFlag(FLAGS_checkpoint_interval)};
  absl::StatusOr<WatchHub::Options> watch = WatchSettings(shared.database_url);
  if (!watch.ok()) return watch.status();
  s.watch = *std::move(watch);
  // Its own connection too: it LISTENs.
  s.sequencer.url = WithConnectionDefaults(shared.database_url, "history-service-sequencer");
  absl::StatusOr<HeldBackLimits> held_back =
      ParseHeldBackLimits(FlagOrEnv(FLAGS_held_back_per_booking, "HISTORY_HELD_BACK_PER_BOOKING"),
                          FlagOrEnv(FLAGS_held_back_max_rows, "HISTORY_HELD_BACK_MAX_ROWS"));
  if (!held_back.ok()) return held_back.status();
  s.held_back = *held_back;
  if (const std::string file = FlagOrEnv(FLAGS_checkpoint_key, "HISTORY_CHECKPOINT_KEY");
      !file.empty()) {
    absl::StatusOr<SigningKey> key = LoadSigningKey(file);
    if (!key.ok()) return key.status();
    const std::string origin = FlagOrEnv(FLAGS_log_origin, "HISTORY_LOG_ORIGIN");
    absl::StatusOr<tlog::NoteSigner> signer =
        tlog::NoteSigner::FromSeed(origin, key->secret.substr(0, crypto_sign_SEEDBYTES));
    if (!signer.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--log-origin (HISTORY_LOG_ORIGIN) \"", origin,
                                                     "\": ", signer.status().message()));
    }
    s.checkpoint_key = *std::move(key);
    s.log_signer = *std::move(signer);
  }
  s.log_checkpoint_interval = absl::GetFlag(FLAGS_log_checkpoint_interval);
  if (s.checkpoint_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--checkpoint-interval must not be negative (0: no heads checkpoints, e.g. 1m)");
  }
  if (s.log_checkpoint_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--log-checkpoint-interval must be positive (e.g. 1s)");
  }
  return s;
}

absl::Status InstallPageTokenKey() {
  const std::string file = FlagOrEnv(FLAGS_page_token_key, "HISTORY_PAGE_TOKEN_KEY");
  if (file.empty()) {
    LogWarning(
        "no --page-token-key: page and resume tokens are signed with a random key of this "
        "process; they fail after a restart and on other replicas");
    return absl::OkStatus();
  }
  absl::StatusOr<TokenKeys> keys = TokenKeys::FromFile(file);
  if (!keys.ok()) return keys.status();
  InstallTokenKeys(*std::move(keys));
  return absl::OkStatus();
}

StorePools::StorePools(ServiceStartup& startup, const HistorySettings& settings)
    : reads(startup.Pool("history", startup.settings().pool_size, absl::Seconds(1))),
      ingest(startup.Pool("history-ingest", settings.ingest_pool_size, absl::Seconds(5))),
      watch(startup.Pool("history-watch", 1, absl::Seconds(1))),
      checkpoint(startup.Pool("history-checkpoint", 1, absl::Seconds(5))) {}

}  // namespace booking
