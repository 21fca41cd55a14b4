// What a service's handler reads from its call's grpc::ServerContext: the
// deadline, as the store layer takes it, and the W3C trace context. Apart from
// common/server_runtime.h so that handlers need only this, and not the
// runtime, the acceptor, the health process and the exposer; apart from
// common/trace_context.h so that the domain layer compiles no gRPC.
// Stateless functions: safe from any thread.
#ifndef BOOKING_COMMON_CALL_CONTEXT_H_
#define BOOKING_COMMON_CALL_CONTEXT_H_

#include "absl/time/time.h"
#include "common/trace_context.h"

namespace grpc {
class ServerContext;
}  // namespace grpc

namespace booking {

// A call's deadline, for the store: InfiniteFuture when the caller set none.
absl::Time DeadlineOf(const grpc::ServerContext& context);

// The call's `traceparent` metadata (a malformed or repeated one ignored, as
// the specification asks), continued as ChildOf.
TraceContext TraceOfCall(const grpc::ServerContext& context);

}  // namespace booking

#endif  // BOOKING_COMMON_CALL_CONTEXT_H_
