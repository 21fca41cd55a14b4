// gRPC answers a request it cannot parse (not protobuf, or a string field
// that is not UTF-8) with INTERNAL and an empty message (UNIMPLEMENTED in
// its callback API), as if the server were broken. This server interceptor turns that answer into
// what it is: INVALID_ARGUMENT, saying what to fix. It also gives every other error the server
// sends an ErrorInfo in the method's package (AIP-193) when it has none.
#ifndef BOOKING_COMMON_PARSE_ERROR_INTERCEPTOR_H_
#define BOOKING_COMMON_PARSE_ERROR_INTERCEPTOR_H_

#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"

namespace booking {

// Thread safe (gRPC creates interceptors from many threads).
class ParseErrorInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

// The interceptors every server of the project installs, in order.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
ServerInterceptors();

}  // namespace booking

#endif  // BOOKING_COMMON_PARSE_ERROR_INTERCEPTOR_H_
