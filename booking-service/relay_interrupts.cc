#include "booking-service/relay_interrupts.h"

#include <algorithm>

#include "pqxx/pqxx"

namespace booking {
namespace {

template <typename T>
void Erase(std::vector<T*>& v, T* item) {
  v.erase(std::remove(v.begin(), v.end(), item), v.end());
}

}  // namespace

void RelayInterrupts::InterruptAll() {
  std::lock_guard<std::mutex> lock(mu_);
  interrupted_ = true;
  for (pqxx::connection* conn : conns_) {
    try {
      conn->cancel_query();  // a no-op when no statement is running
    } catch (const std::exception&) {
      // The connection is broken already: its statement ends by itself.
    }
  }
  for (grpc::ClientContext* call : calls_) call->TryCancel();
}

RelayInterrupts::Guard::Guard(RelayInterrupts& owner, pqxx::connection* conn)
    : owner_(owner), conn_(conn) {
  std::lock_guard<std::mutex> lock(owner_.mu_);
  owner_.conns_.push_back(conn_);
}

RelayInterrupts::Guard::Guard(RelayInterrupts& owner, grpc::ClientContext* call)
    : owner_(owner), call_(call) {
  std::lock_guard<std::mutex> lock(owner_.mu_);
  owner_.calls_.push_back(call_);
  if (owner_.interrupted_) call_->TryCancel();
}

RelayInterrupts::Guard::~Guard() {
  std::lock_guard<std::mutex> lock(owner_.mu_);
  if (conn_ != nullptr) Erase(owner_.conns_, conn_);
  if (call_ != nullptr) Erase(owner_.calls_, call_);
}

}  // namespace booking
