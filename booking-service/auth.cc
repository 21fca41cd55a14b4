#include "booking-service/auth.h"

#include "common/authz_interceptor.h"

namespace booking {

absl::StatusOr<std::string> Authenticator::Identify(const grpc::ServerContext& context) const {
  if (absl::Status refused = CallRefusal(context); !refused.ok()) return refused;
  return CallerPrincipal(context);
}

}  // namespace booking
