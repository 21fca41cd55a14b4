#include "history-service/checkpointer.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"

namespace booking {

void Checkpointer::Start() {
  LogInfo("signing checkpoints",
          {{"interval", absl::FormatDuration(interval_)}, {"public_key", Hex(key_.public_key)}});
  thread_ = std::thread([this] { Run(); });
}

void Checkpointer::Stop() {
  if (!thread_.joinable()) return;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  thread_.join();
}

void Checkpointer::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    std::optional<history::v1::Checkpoint> signed_now;
    absl::Status s = pool_.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
      signed_now = SignCheckpoint(txn, key_);
      return absl::OkStatus();
    });
    if (!s.ok()) {
      // The next interval tries again; history keeps being chained meanwhile.
      LogWarning("checkpoint not signed", {{"error", s.ToString()}});
      continue;
    }
    if (signed_now) {
      LogInfo("checkpoint signed", {{"id", absl::StrCat(signed_now->id())},
                                    {"rows", absl::StrCat(signed_now->row_count())},
                                    {"bookings", absl::StrCat(signed_now->booking_count())},
                                    {"root", Hex(signed_now->root())}});
    }
  }
}

}  // namespace booking
