// `history-verify log`: a witness of the history store's transparency log
// (issue 22). It checks the newest signed log checkpoint with the log's
// public key, has the log prove that it extends the checkpoint the witness
// file holds (an RFC 9162 consistency proof, checked here), and only then
// keeps it in the file (common/tlog/witness.h: atomic replace). A log that
// was rolled back or forked, or a checkpoint not signed by the key, is
// refused and the file is left as it was. The log is read from the store
// (StoreLogSource) or asked of history-service over gRPC (GrpcLogSource,
// log_source_grpc.h): the checks are the same; only the proofs' source
// differs, and neither is trusted.
// Thread safety: a function of its arguments and the file; one caller per
// witness file at a time.
#ifndef HISTORY_VERIFY_LOG_WITNESS_H_
#define HISTORY_VERIFY_LOG_WITNESS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "common/tlog/merkle.h"

namespace booking {

// Where a witness reads the log. Errors: UNAVAILABLE or DEADLINE_EXCEEDED
// when it cannot be reached, anything else when it answers with no proof.
class LogSource {
 public:
  virtual ~LogSource() = default;
  // The newest signed checkpoint (its note); none before the first.
  virtual absl::StatusOr<std::optional<std::string>> NewestNote() = 0;
  // The consistency proof between two sizes, 0 < old_size < new_size.
  virtual absl::StatusOr<std::vector<tlog::Hash>> ConsistencyProof(uint64_t old_size,
                                                                   uint64_t new_size) = 0;
  // For messages: "the store", "history-service at HOST:PORT".
  virtual std::string Name() const = 0;
};

// The store's log, read in one read-only snapshot of `txn`.
class StoreLogSource : public LogSource {
 public:
  explicit StoreLogSource(pqxx::transaction_base& txn) : txn_(txn) {}
  absl::StatusOr<std::optional<std::string>> NewestNote() override;
  absl::StatusOr<std::vector<tlog::Hash>> ConsistencyProof(uint64_t old_size,
                                                           uint64_t new_size) override;
  std::string Name() const override { return "the store"; }

 private:
  pqxx::transaction_base& txn_;
};

// Exit codes: 0 verified (or a first checkpoint trusted), 1 refused (the log
// or its checkpoint does not hold), 2 setup (no checkpoint yet, an unusable
// witness file), 3 the source unreachable. Prints what it found on stdout, a
// refusal's reason on stderr.
int WitnessLog(LogSource& source, const std::string& public_key, const std::string& witness_file);

// WitnessLog over the store `conn` reaches, in one read-only snapshot.
int WitnessStoreLog(pqxx::connection& conn, const std::string& public_key,
                    const std::string& witness_file);

}  // namespace booking

#endif  // HISTORY_VERIFY_LOG_WITNESS_H_
