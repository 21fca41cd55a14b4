// Who is calling. A caller is named by its bearer token ("authorization:
// Bearer <token>", people and tools) or else by its verified client
// certificate (services, over mTLS), as a typed Principal (common/principal.h).
// A request field never names the caller.
#ifndef BOOKING_COMMON_IDENTITY_H_
#define BOOKING_COMMON_IDENTITY_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/principal.h"
#include "grpcpp/security/auth_context.h"

namespace booking {

// Tokens shorter than this are refused when the file is loaded: a short
// token can be guessed.
inline constexpr size_t kMinTokenBytes = 16;

// The tokens file: "principal token" lines, '#' starts a comment.
//
// Thread safe once built: it is immutable, PrincipalOf is const.
class TokenTable {
 public:
  // INVALID_ARGUMENT naming the file and line of a malformed line, a
  // principal Principal::Token refuses, a token shorter than kMinTokenBytes
  // or used twice; a file without tokens.
  static absl::StatusOr<TokenTable> FromFile(const std::string& path);

  // The principal of `token`, compared in constant time with every known
  // token (SHA-256 of each, CRYPTO_memcmp): timing reveals neither which
  // token matched nor how much of one did.
  std::optional<Principal> PrincipalOf(absl::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> token_sha256;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

// The principal a client certificate (PEM) names, read from its
// subjectAltName with OpenSSL's typed GENERAL_NAME API, never from the
// subject: its URI SAN as a SPIFFE ID, else its first DNS SAN as a DNS name
// (a certificate with a SPIFFE ID is that ID only: its DNS SANs name it as a
// server, not as a caller); nullopt when it has neither (IP and e-mail SANs
// name no caller). INVALID_ARGUMENT (what is wrong) for a certificate whose
// names are ambiguous: more than one URI SAN or subjectAltName extension, a
// URI SAN that is not a SPIFFE ID, any DNS SAN that is not a host name, or
// one that cannot be read.
absl::StatusOr<std::optional<Principal>> CertificatePrincipal(absl::string_view pem);

// The same for the verified client certificate of a call (nullopt without
// one).
absl::StatusOr<std::optional<Principal>> CertificatePrincipal(const grpc::AuthContext& auth);

}  // namespace booking

#endif  // BOOKING_COMMON_IDENTITY_H_
