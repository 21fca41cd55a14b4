#include "history-verify/log_source_grpc.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"

namespace booking {
namespace {

// gRPC's codes are absl's, number for number.
absl::Status FromGrpc(const grpc::Status& s, absl::string_view call) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(call, ": ", s.error_message()));
}

}  // namespace

GrpcLogSource::GrpcLogSource(const std::shared_ptr<grpc::Channel>& channel, std::string target,
                             std::string token, absl::Duration timeout)
    : stub_(history::v1::HistoryService::NewStub(channel)),
      target_(std::move(target)),
      token_(std::move(token)),
      timeout_(timeout) {}

void GrpcLogSource::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  if (!token_.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
}

absl::StatusOr<std::optional<std::string>> GrpcLogSource::NewestNote() {
  grpc::ClientContext context;
  Prepare(context);
  history::v1::LogCheckpoint checkpoint;
  const grpc::Status s =
      stub_->GetLogCheckpoint(&context, history::v1::GetLogCheckpointRequest(), &checkpoint);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;  // none signed yet
  if (!s.ok()) return FromGrpc(s, "GetLogCheckpoint");
  return checkpoint.note();
}

absl::StatusOr<std::vector<tlog::Hash>> GrpcLogSource::ConsistencyProof(uint64_t old_size,
                                                                        uint64_t new_size) {
  grpc::ClientContext context;
  Prepare(context);
  history::v1::GetConsistencyProofRequest request;
  request.set_old_size(static_cast<int64_t>(old_size));
  request.set_new_size(static_cast<int64_t>(new_size));
  history::v1::ConsistencyProof proof;
  const grpc::Status s = stub_->GetConsistencyProof(&context, request, &proof);
  if (!s.ok()) return FromGrpc(s, "GetConsistencyProof");
  std::vector<tlog::Hash> out;
  for (const std::string& bytes : proof.hashes()) {
    absl::StatusOr<tlog::Hash> h = tlog::HashFromBytes(bytes);
    if (!h.ok()) return absl::DataLossError("GetConsistencyProof: a hash that is not 32 bytes");
    out.push_back(*h);
  }
  return out;
}

std::string GrpcLogSource::Name() const { return absl::StrCat("history-service at ", target_); }

}  // namespace booking
