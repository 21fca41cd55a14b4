#include "booking-service/auth.h"

#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/rpc_error.h"

namespace booking {

absl::StatusOr<Authenticator> Authenticator::FromFile(const std::string& path) {
  Authenticator auth;
  if (path.empty()) return auth;
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read auth tokens file ", path));
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || absl::StartsWith(text, "#")) continue;
    std::vector<std::string> parts = absl::StrSplit(text, ' ', absl::SkipWhitespace());
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": expected \"principal token\""));
    }
    auth.principals_by_token_[parts[1]] = parts[0];
  }
  if (auth.principals_by_token_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no tokens"));
  }
  return auth;
}

absl::StatusOr<std::string> Authenticator::Identify(const grpc::ServerContext& context) const {
  if (!enabled()) return std::string("anonymous");
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return RpcError(absl::StatusCode::kUnauthenticated,
                    "missing \"authorization: Bearer <token>\" metadata")
        .Info("MISSING_CREDENTIALS", "booking.v1");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return RpcError(absl::StatusCode::kUnauthenticated,
                    "authorization metadata must be \"Bearer <token>\"")
        .Info("MALFORMED_CREDENTIALS", "booking.v1");
  }
  auto principal = principals_by_token_.find(value);
  if (principal == principals_by_token_.end()) {
    return RpcError(absl::StatusCode::kUnauthenticated, "unknown bearer token")
        .Info("INVALID_CREDENTIALS", "booking.v1");
  }
  return principal->second;
}

}  // namespace booking
