// Where every call is authenticated and authorized: a server interceptor
// that asks AccessControl (common/authz.h) as soon as a call's metadata
// arrives, before the request is looked at. gRPC 1.51's server interceptors
// cannot end a call early, so the decision is handed to the handler, whose
// first line is
//
//   if (absl::Status refused = CallRefusal(*context); !refused.ok()) return ...;
//
// and the interceptor also replaces whatever status a refused call ends with
// by the refusal: a caller that is not allowed learns nothing else (not
// even that its request did not parse).
#ifndef BOOKING_COMMON_AUTHZ_INTERCEPTOR_H_
#define BOOKING_COMMON_AUTHZ_INTERCEPTOR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/authz.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"

namespace booking {

// Thread safe (gRPC creates interceptors from many threads).
class AuthzInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuthzInterceptorFactory(std::shared_ptr<const AccessControl> access)
      : access_(std::move(access)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<const AccessControl> access_;
};

// OK when the call was allowed; else the refusal (UNAUTHENTICATED or
// PERMISSION_DENIED with details). A call on a server without the
// interceptor is refused: never allowed by omission.
absl::Status CallRefusal(const grpc::ServerContextBase& context);

// The allowed caller's principal ("anonymous" when nothing names it).
std::string CallerPrincipal(const grpc::ServerContextBase& context);

}  // namespace booking

#endif  // BOOKING_COMMON_AUTHZ_INTERCEPTOR_H_
