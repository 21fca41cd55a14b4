// Signs a checkpoint of the history store every interval (when anything was
// appended since the last one), on a thread of its own.
#ifndef HISTORY_SERVICE_CHECKPOINTER_H_
#define HISTORY_SERVICE_CHECKPOINTER_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "history-service/checkpoint.h"

namespace booking {

class PgPool;

// Thread-compatible: Start and Stop one thread at a time (callers serialise); Run is its own
// thread's.
class Checkpointer {
 public:
  Checkpointer(PgPool& pool, SigningKey key, absl::Duration interval)
      : pool_(pool), key_(std::move(key)), interval_(interval) {}
  ~Checkpointer() { Stop(); }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Start();
  void Stop();

 private:
  void Run();

  PgPool& pool_;
  const SigningKey key_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_CHECKPOINTER_H_
