// The RPC boundary of the errors of common/rpc_error.h: absl::Status (with
// its google.rpc details) -> grpc::Status, with the details in the
// grpc-status-details-bin trailer. Apart from rpc_error.h so that the domain
// and store layers, which only build errors, compile and link no gRPC.
// Stateless functions: safe from any thread.
#ifndef BOOKING_COMMON_RPC_STATUS_H_
#define BOOKING_COMMON_RPC_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace booking {

// absl::Status -> grpc::Status, keeping the google.rpc details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The status a caller sees. Errors built by RpcError are meant for callers
// and pass unchanged, with an ErrorInfo in `domain` added when they have
// none (EnsureErrorInfo). Any other error (a database's text, an exception) is
// logged in full with a reference id, and the caller gets its code, a message
// saying what to do, and an ErrorInfo (reason, `domain`, the reference):
// never the internals.
grpc::Status ToCallerStatus(const absl::Status& status, absl::string_view domain,
                            absl::string_view method);

// EnsureErrorInfo on a status about to be sent (google.rpc details in
// error_details(), or none).
grpc::Status WithErrorInfo(const grpc::Status& status, absl::string_view domain);

}  // namespace booking

#endif  // BOOKING_COMMON_RPC_STATUS_H_
