#include "common/probe_connection.h"

#include <utility>

#include "common/pg.h"
#include "pqxx/pqxx"

namespace booking {

ProbeConnection::ProbeConnection(std::string url, ConnectionSetup setup)
    : url_(std::move(url)), setup_(std::move(setup)) {}

ProbeConnection::~ProbeConnection() = default;

absl::Status ProbeConnection::Run(
    const std::function<absl::Status(pqxx::transaction_base&)>& check) {
  bool lost = false;
  absl::Status status = RunOnce(check, &lost);
  if (lost) status = RunOnce(check, &lost);
  return status;
}

absl::Status ProbeConnection::RunOnce(
    const std::function<absl::Status(pqxx::transaction_base&)>& check, bool* lost) {
  *lost = false;
  const bool was_open = conn_ != nullptr;
  if (!was_open) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> opened = Connect(url_, [this](auto& c) {
      if (setup_) setup_(c);
      // A probe that hangs is as bad as one that fails.
      c.set_variable("statement_timeout", "2000");
    });
    if (!opened.ok()) return opened.status();
    conn_ = *std::move(opened);
  }
  try {
    pqxx::read_transaction txn(*conn_);
    return check(txn);
  } catch (const std::exception& e) {
    const bool gone = IsConnectionLost(e) || !conn_->is_open();
    if (gone) conn_.reset();
    // Only a connection that was already open can have gone stale.
    *lost = gone && was_open;
    return StatusFromException(e);
  }
}

}  // namespace booking
