// Signs checkpoints of the history store on a thread of its own: the log's
// checkpoint (C2SP tlog-checkpoint over the Merkle tree of every row,
// history-service/log_checkpoint.h) every `log_interval` when the tree grew,
// and, when `heads_interval` is positive, the older heads checkpoint
// (history-service/checkpoint.h, whose signing reads every booking's head:
// O(store)) every `heads_interval` when rows were added.
#ifndef HISTORY_SERVICE_CHECKPOINTER_H_
#define HISTORY_SERVICE_CHECKPOINTER_H_

#include <optional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/tlog/note_key.h"
#include "history-service/checkpoint.h"

namespace booking {

class PgPool;

// Thread-compatible: Start and Stop one thread at a time (callers serialise); Run is its own
// thread's.
class Checkpointer {
 public:
  struct Options {
    SigningKey heads_key;
    absl::Duration heads_interval;  // zero: heads not signed
    tlog::NoteSigner log_signer;
    absl::Duration log_interval = absl::Seconds(1);
  };

  Checkpointer(PgPool& pool, Options options) : pool_(pool), options_(std::move(options)) {}
  ~Checkpointer() { Stop(); }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Start();
  void Stop();

 private:
  void Run();
  void SignHeads();
  void SignLog();

  PgPool& pool_;
  const Options options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_CHECKPOINTER_H_
