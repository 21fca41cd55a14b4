// The log as history-service serves it over gRPC (GetLogCheckpoint,
// GetConsistencyProof), for a witness that cannot, or should not, reach the
// store: `history-verify log --server`. Nothing it returns is trusted; the
// witness checks the note's signature and the proof (log_witness.h).
// Thread safety: one caller at a time.
#ifndef HISTORY_VERIFY_LOG_SOURCE_GRPC_H_
#define HISTORY_VERIFY_LOG_SOURCE_GRPC_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "history-verify/log_witness.h"
#include "history/v1/history.grpc.pb.h"

namespace booking {

class GrpcLogSource : public LogSource {
 public:
  // `token`: a bearer token sent with each call ("" for none); each call
  // waits at most `timeout`.
  GrpcLogSource(const std::shared_ptr<grpc::Channel>& channel, std::string target,
                std::string token, absl::Duration timeout);
  absl::StatusOr<std::optional<std::string>> NewestNote() override;
  absl::StatusOr<std::vector<tlog::Hash>> ConsistencyProof(uint64_t old_size,
                                                           uint64_t new_size) override;
  std::string Name() const override;

 private:
  void Prepare(grpc::ClientContext& context) const;

  std::unique_ptr<history::v1::HistoryService::Stub> stub_;
  const std::string target_;
  const std::string token_;
  const absl::Duration timeout_;
};

}  // namespace booking

#endif  // HISTORY_VERIFY_LOG_SOURCE_GRPC_H_
