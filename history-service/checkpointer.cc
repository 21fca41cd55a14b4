#include "history-service/checkpointer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "history-service/log_checkpoint.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"

namespace booking {

void Checkpointer::Start() {
  LogInfo("signing checkpoints",
          {{"heads_interval", options_.heads_interval > absl::ZeroDuration()
                                  ? absl::FormatDuration(options_.heads_interval)
                                  : "off"},
           {"public_key", Hex(options_.heads_key.public_key)},
           {"log_interval", absl::FormatDuration(options_.log_interval)},
           {"log_verifier_key", options_.log_signer.verifier().VerifierKey()}});
  thread_ = std::thread([this] { Run(); });
}

void Checkpointer::Stop() {
  if (!thread_.joinable()) return;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  thread_.join();
}

void Checkpointer::Run() {
  const bool heads = options_.heads_interval > absl::ZeroDuration();
  absl::Time next_heads = heads ? absl::Now() + options_.heads_interval : absl::InfiniteFuture();
  absl::Time next_log = absl::Now() + options_.log_interval;
  while (!stop_.WaitForNotificationWithDeadline(std::min(next_heads, next_log))) {
    const absl::Time now = absl::Now();
    if (now >= next_log) {
      SignLog();
      next_log = now + options_.log_interval;
    }
    if (now >= next_heads) {
      SignHeads();
      next_heads = now + options_.heads_interval;
    }
  }
}

void Checkpointer::SignLog() {
  absl::StatusOr<std::optional<LogCheckpoint>> signed_now;
  absl::Status s = pool_.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
    signed_now = SignLogCheckpoint(txn, options_.log_signer);
    return signed_now.status();
  });
  if (!s.ok()) {
    // Not signed: the next interval tries again; a tree that does not check
    // out is never signed.
    if (s.code() == absl::StatusCode::kDataLoss) {
      LogError("log checkpoint not signed: the tree does not check out", {{"error", s.ToString()}});
    } else {
      LogWarning("log checkpoint not signed", {{"error", s.ToString()}});
    }
    return;
  }
  if (*signed_now) {
    LogDebug("log checkpoint signed", {{"size", absl::StrCat((*signed_now)->size)},
                                       {"root", tlog::HashToHex((*signed_now)->root)}});
  }
}

void Checkpointer::SignHeads() {
  std::optional<history::v1::Checkpoint> signed_now;
  absl::Status s = pool_.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
    signed_now = SignCheckpoint(txn, options_.heads_key);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    // The next interval tries again; history keeps being chained meanwhile.
    LogWarning("checkpoint not signed", {{"error", s.ToString()}});
    return;
  }
  if (signed_now) {
    LogInfo("checkpoint signed", {{"id", absl::StrCat(signed_now->id())},
                                  {"rows", absl::StrCat(signed_now->row_count())},
                                  {"bookings", absl::StrCat(signed_now->booking_count())},
                                  {"root", Hex(signed_now->root())}});
  }
}

}  // namespace booking
