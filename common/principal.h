// Who a caller is, typed by where the name came from. Three kinds, one name
// space each, never compared across kinds:
//
//   SPIFFE ID  only from a client certificate's URI SAN that is a valid
//              SPIFFE ID (spiffe://trust-domain/path);
//   DNS name   only from a client certificate's DNS SAN that is a host name
//              (RFC 1123), lowercased;
//   token      only from the tokens file (the principal of a bearer token).
//
// The policy names a principal by its kind: "spiffe://booking.local/x",
// "dns:history-service", "token:alice@example.com". A DNS name cannot hold
// ':' or '/', and a token principal cannot start with a kind's prefix, so the
// three policy spellings never collide.
#ifndef BOOKING_COMMON_PRINCIPAL_H_
#define BOOKING_COMMON_PRINCIPAL_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

// Thread-compatible: one thread at a time (callers serialise).
class Principal {
 public:
  enum class Kind { kSpiffeId, kDnsName, kToken };

  // INVALID_ARGUMENT saying why `id` is not a SPIFFE ID: anything but
  // "spiffe://" + a lowercase trust domain ([a-z0-9._-] in non-empty
  // dot-separated labels, at most 255 bytes) + a path of non-empty segments
  // of [A-Za-z0-9._-] that are not "." or "..", no trailing '/'. So no port,
  // userinfo, query, fragment or percent-encoding; at most 2048 bytes.
  static absl::StatusOr<Principal> SpiffeId(absl::string_view id);
  // A host name (RFC 1123): dot-separated labels of 1 to 63 letters, digits
  // and '-', not starting or ending with '-', the last not all digits (an
  // IPv4 address is not a host name), at most 253 bytes. Lowercased. A
  // wildcard ("*.example.com") and a trailing dot ("example.com.") are
  // refused, not rewritten.
  static absl::StatusOr<Principal> DnsName(absl::string_view name);
  // A tokens-file principal: printable ASCII without spaces; not "*" nor
  // "anonymous" (the name of a caller nothing names), and not starting with
  // a kind's prefix ("spiffe:", "dns:", "token:", any case).
  static absl::StatusOr<Principal> Token(absl::string_view name);

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }

  // How a policy line names it: the SPIFFE ID, "dns:<name>", "token:<name>".
  std::string PolicyName() const;
  // How it is shown (history's changedBy, booking-service's records): the
  // SPIFFE ID, "dns:<name>", or the token's principal as the tokens file
  // writes it.
  std::string Display() const;

  bool operator==(const Principal& o) const { return kind_ == o.kind_ && name_ == o.name_; }

 private:
  Principal(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  Kind kind_;
  std::string name_;
};

// A word of a policy line that names a principal: "spiffe://...", "dns:<host>"
// or "token:<name>". INVALID_ARGUMENT saying how to write it otherwise.
absl::StatusOr<Principal> ParsePolicyPrincipal(absl::string_view word);

// `text` for a message: non-printable bytes escaped, at most 120 bytes.
std::string Printable(absl::string_view text);

}  // namespace booking

#endif  // BOOKING_COMMON_PRINCIPAL_H_
