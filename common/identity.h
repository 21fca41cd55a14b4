// Who is calling. A caller is named by its bearer token ("authorization:
// Bearer <token>", people and tools) or else by its verified client
// certificate (services, over mTLS): the certificate's first URI SAN (e.g.
// spiffe://booking/booking-service), else its first DNS SAN. A request field
// never names the caller.
#ifndef BOOKING_COMMON_IDENTITY_H_
#define BOOKING_COMMON_IDENTITY_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_context.h"

namespace booking {

// Tokens shorter than this are refused when the file is loaded: a short
// token can be guessed.
inline constexpr size_t kMinTokenBytes = 16;

// The tokens file: "principal token" lines, '#' starts a comment.
class TokenTable {
 public:
  // INVALID_ARGUMENT naming the file and line of a malformed line, a token
  // shorter than kMinTokenBytes or used twice; a file without tokens.
  static absl::StatusOr<TokenTable> FromFile(const std::string& path);

  // The principal of `token`, compared in constant time with every known
  // token (SHA-256 of each, CRYPTO_memcmp): timing reveals neither which
  // token matched nor how much of one did.
  std::optional<std::string> PrincipalOf(absl::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> token_sha256;
    std::string principal;
  };
  std::vector<Entry> entries_;
};

// The principal a verified client certificate names (empty: no certificate
// or none of the names above).
std::string CertificatePrincipal(const grpc::AuthContext& auth);

}  // namespace booking

#endif  // BOOKING_COMMON_IDENTITY_H_
