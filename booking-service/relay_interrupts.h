// What the relay's Stop cuts short once its grace is over: database
// statements in progress (cancelled through libpq, as psql's Ctrl-C) and the
// history stream (the call cancelled). The relay's threads register what
// they may block on for as long as they may block on it.
#ifndef BOOKING_SERVICE_RELAY_INTERRUPTS_H_
#define BOOKING_SERVICE_RELAY_INTERRUPTS_H_

#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/pqxx_fwd.h"
#include "grpcpp/client_context.h"

namespace booking {

// Thread safe.
class RelayInterrupts {
 public:
  // Cancels the statement in progress on every registered connection and
  // every registered call; calls registered afterwards are cancelled at
  // once. Statements started after it are not: call it again.
  void InterruptAll();

  // Registered for the guard's lifetime.
  class Guard {
   public:
    Guard(RelayInterrupts& owner, pqxx::connection* conn);
    Guard(RelayInterrupts& owner, grpc::ClientContext* call);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    RelayInterrupts& owner_;
    pqxx::connection* conn_ = nullptr;
    grpc::ClientContext* call_ = nullptr;
  };

 private:
  std::mutex mu_;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<pqxx::connection*> conns_ ABSL_GUARDED_BY(mu_);
  std::vector<grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking

#endif  // BOOKING_SERVICE_RELAY_INTERRUPTS_H_
