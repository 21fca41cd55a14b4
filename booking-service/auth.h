// Who is calling: the identity recorded as changedBy. The caller was
// authenticated and authorized before the handler ran (common/authz.h: a
// bearer token or a client certificate, and the policy); a caller can never
// name itself through a request field.
#ifndef BOOKING_SERVICE_AUTH_H_
#define BOOKING_SERVICE_AUTH_H_

#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace booking {

// Thread safe: Identify is const.
class Authenticator {
 public:
  // The caller's principal ("anonymous" when authentication is off), or the
  // refusal (UNAUTHENTICATED, PERMISSION_DENIED) decided for the call.
  // Called first in every handler.
  absl::StatusOr<std::string> Identify(const grpc::ServerContext& context) const;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_AUTH_H_
