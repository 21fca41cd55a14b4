// Server reflection, grpc.reflection.v1 and grpc.reflection.v1alpha side by
// side, so that grpcurl and the like need no .proto files. gRPC 1.51's plugin
// serves only v1alpha, which clients that speak only v1 (Postman, evans,
// newer grpc_cli) cannot use. Both versions have the same messages under two
// packages: one implementation, a template over the two generated APIs,
// answers both from this binary's generated descriptor pool (every message
// compiled in, well-known types and grpc.health.v1 included) and lists the
// services of the server it is added to, itself included.
#ifndef BOOKING_COMMON_SERVER_REFLECTION_H_
#define BOOKING_COMMON_SERVER_REFLECTION_H_

#include <memory>

#include "grpcpp/impl/server_builder_option.h"

namespace booking {

// For grpc::ServerBuilder::SetOption: the server built serves both versions.
// Per builder (no process-wide plugin registration).
std::unique_ptr<grpc::ServerBuilderOption> ServerReflectionOption();

}  // namespace booking

#endif  // BOOKING_COMMON_SERVER_REFLECTION_H_
