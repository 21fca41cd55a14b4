// Who is calling: the identity recorded as changedBy. Callers present
// "authorization: Bearer <token>"; the token file maps tokens to principals.
// A caller can never name itself through a request field.
#ifndef BOOKING_SERVICE_AUTH_H_
#define BOOKING_SERVICE_AUTH_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace booking {

class Authenticator {
 public:
  // Reads "principal token" lines ('#' starts a comment). An empty path
  // disables authentication: every caller is "anonymous".
  static absl::StatusOr<Authenticator> FromFile(const std::string& path);

  bool enabled() const { return !principals_by_token_.empty(); }

  // UNAUTHENTICATED when the token is missing or unknown.
  absl::StatusOr<std::string> Identify(const grpc::ServerContext& context) const;

 private:
  absl::flat_hash_map<std::string, std::string> principals_by_token_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_AUTH_H_
