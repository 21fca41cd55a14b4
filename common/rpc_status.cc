#include "common/rpc_status.h"

#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/rpc_error.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/error_details.h"

namespace booking {
namespace {

// What a caller can do about an error it cannot see the details of.
std::pair<absl::string_view, absl::string_view> ReasonAndAdvice(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
      return {"STORE_UNAVAILABLE", "the service cannot reach its store; retry with backoff"};
    case absl::StatusCode::kDeadlineExceeded:
      return {"DEADLINE_EXCEEDED", "the deadline passed before the store answered; retry later"};
    case absl::StatusCode::kAborted:
      return {"CONFLICT", "the change conflicted with a concurrent one; retry"};
    case absl::StatusCode::kResourceExhausted:
      return {"OVERLOADED", "the service is at capacity; retry with backoff"};
    case absl::StatusCode::kFailedPrecondition:
      return {"NOT_READY", "the service's store is not ready (see its health); retry later"};
    default:
      return {"INTERNAL", "internal error; the service log has the details"};
  }
}

std::string NewReference() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
}

}  // namespace

grpc::Status WithErrorInfo(const grpc::Status& status, absl::string_view domain) {
  if (status.ok()) return status;
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    details.Clear();
    details.set_code(status.error_code());
    details.set_message(status.error_message());
  }
  EnsureErrorInfo(details, domain);
  grpc::Status out;
  grpc::SetErrorDetails(details, &out);
  return out;
}

grpc::Status ToCallerStatus(const absl::Status& status, absl::string_view domain,
                            absl::string_view method) {
  if (status.ok()) return grpc::Status::OK;
  if (HasDetails(status)) {
    google::rpc::Status details = DetailsOf(status);
    EnsureErrorInfo(details, domain);
    grpc::Status out;
    grpc::SetErrorDetails(details, &out);
    return out;
  }
  const std::string reference = NewReference();
  const auto [reason, advice] = ReasonAndAdvice(status.code());
  LogError("call failed", {{"method", std::string(method)},
                           {"code", absl::StatusCodeToString(status.code())},
                           {"error", std::string(status.message())},
                           {"reference", reference}});
  return ToGrpcStatus(
      RpcError(status.code(), absl::StrCat(advice, " (reference ", reference, ")"))
          .Info(std::string(reason), std::string(domain), {{"reference", reference}}));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  grpc::Status out;
  grpc::SetErrorDetails(DetailsOf(status), &out);
  return out;
}

}  // namespace booking
