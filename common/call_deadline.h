// A call's deadline as the store layer takes it (absl::Time), apart from
// common/server_runtime.h so that a service's handlers need only this and
// not the runtime, the acceptor, the health process and the exposer.
// Stateless: safe from any thread.
#ifndef BOOKING_COMMON_CALL_DEADLINE_H_
#define BOOKING_COMMON_CALL_DEADLINE_H_

#include "absl/time/time.h"

namespace grpc {
class ServerContext;
}  // namespace grpc

namespace booking {

// A call's deadline, for the store: InfiniteFuture when the caller set none.
absl::Time DeadlineOf(const grpc::ServerContext& context);

}  // namespace booking

#endif  // BOOKING_COMMON_CALL_DEADLINE_H_
