// The authorization policy: which principals may call which methods.
//
// A text file, one rule a line, '#' starts a comment:
//
//   group <name> <principal>...          # a group, its members
//   allow <principal|group|*> <method>...  # may call these methods
//
// A method is a full gRPC method name, "/history.v1.HistoryService/Ingest",
// a whole service, "/booking.v1.BookingService/*", or "*" (every method).
// "*" as the caller means any authenticated caller. Everything not allowed
// is denied. Health and reflection are allowed for everyone, always (see
// IsAlwaysAllowed): probes and grpcurl carry no identity.
#ifndef BOOKING_COMMON_AUTHZ_POLICY_H_
#define BOOKING_COMMON_AUTHZ_POLICY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

class AuthzPolicy {
 public:
  // INVALID_ARGUMENT naming the line of a rule it cannot read.
  static absl::StatusOr<AuthzPolicy> Parse(absl::string_view text, absl::string_view source);
  static absl::StatusOr<AuthzPolicy> FromFile(const std::string& path);

  // Whether `principal` (authenticated) may call `method` ("/pkg.Service/M").
  bool Allows(absl::string_view principal, absl::string_view method) const;

  size_t rule_count() const { return rules_; }

 private:
  absl::Status AddLine(absl::string_view line);
  absl::StatusOr<std::string> CheckMethod(absl::string_view method) const;

  // Caller (principal, group or "*") -> method patterns.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> allowed_;
  // Principal -> the groups it is in.
  absl::flat_hash_map<std::string, std::vector<std::string>> groups_of_;
  size_t rules_ = 0;
};

// Health and reflection: answered to anyone, authenticated or not.
bool IsAlwaysAllowed(absl::string_view method);

}  // namespace booking

#endif  // BOOKING_COMMON_AUTHZ_POLICY_H_
