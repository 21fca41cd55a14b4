// Errors with google.rpc details, built once and carried as absl::Status
// inside the services; converted to grpc::Status (with the
// grpc-status-details-bin trailer) only at the RPC boundary
// (common/rpc_status.h). No gRPC here: the domain and store layers use it.
#ifndef BOOKING_COMMON_RPC_ERROR_H_
#define BOOKING_COMMON_RPC_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace booking {

// Thread-compatible: one thread at a time (callers serialise).
class RpcError {
 public:
  RpcError(absl::StatusCode code, std::string message);

  // google.rpc.ErrorInfo: a machine-readable reason ("ILLEGAL_TRANSITION").
  RpcError& Info(std::string reason, std::string domain,
                 std::initializer_list<std::pair<std::string, std::string>> metadata = {});
  // google.rpc.BadRequest field violation.
  RpcError& FieldViolation(std::string field, std::string description);
  // google.rpc.PreconditionFailure violation.
  RpcError& Precondition(std::string type, std::string subject, std::string description);
  // google.rpc.RetryInfo: wait at least `delay` before trying again.
  RpcError& RetryAfter(absl::Duration delay);

  absl::Status ToStatus() const;
  operator absl::Status() const { return ToStatus(); }  // NOLINT: builder

 private:
  absl::StatusCode code_;
  std::string message_;
  google::rpc::ErrorInfo info_;
  google::rpc::BadRequest bad_request_;
  google::rpc::PreconditionFailure precondition_;
  google::rpc::RetryInfo retry_;
};

// INVALID_ARGUMENT "field: description" with one BadRequest field violation.
absl::Status InvalidField(absl::string_view field, absl::string_view description);

// AIP-193: adds an ErrorInfo to `details` unless it has one: reason the
// code's name ("INVALID_ARGUMENT"), `domain`, and the first BadRequest
// field (metadata "field") when there is one. An ErrorInfo without a domain
// (made by a layer shared by services, e.g. the store's OUTCOME_UNKNOWN)
// gets `domain`.
void EnsureErrorInfo(google::rpc::Status& details, absl::string_view domain);

// The ErrorInfo domain of a full method name: its package
// ("/history.v1.HistoryService/ListHistory" -> "history.v1").
std::string DomainOfMethod(absl::string_view method);

// The google.rpc.Status an error carries (code and message only when it was
// not built by RpcError).
google::rpc::Status DetailsOf(const absl::Status& status);

// Whether `status` was built by RpcError (carries google.rpc details).
bool HasDetails(const absl::Status& status);

}  // namespace booking

#endif  // BOOKING_COMMON_RPC_ERROR_H_
