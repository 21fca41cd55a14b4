// The authorization policy: which principals may call which methods.
//
// A text file, one rule a line, '#' starts a comment:
//
//   group <name> <principal>...            # a group, its members
//   allow <principal|group|*> <method>...  # may call these methods
//
// A principal names its kind (common/principal.h): "spiffe://td/path" (a
// certificate's URI SAN), "dns:<host>" (a certificate's DNS SAN),
// "token:<name>" (a tokens-file principal); a line of one kind never matches
// a principal of another. A group name is letters, digits, '.', '_' and '-';
// every group an allow line names must be defined (anywhere in the file).
// A method is a full gRPC method name of booking.v1.BookingService or
// history.v1.HistoryService, "/history.v1.HistoryService/Ingest", a whole
// service, "/booking.v1.BookingService/*", or "*" (every method); a method
// or service neither has is refused. "*" as the caller means any
// identified caller. Everything not allowed is denied. Health and reflection
// are allowed for everyone, always (see IsAlwaysAllowed): probes and grpcurl
// carry no identity.
//
// A file that does not load is refused whole, naming the line: a word that
// names no kind of principal (the format before principals were typed:
// "alice@example.com" is now "token:alice@example.com"), an undefined group,
// an unknown method; the last two with the closest known name ("did you
// mean /booking.v1.BookingService/ChangeStatus?", common/closest_name.h).
#ifndef BOOKING_COMMON_AUTHZ_POLICY_H_
#define BOOKING_COMMON_AUTHZ_POLICY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/principal.h"

namespace booking {

// Thread safe once built: it is immutable, Allows is const.
class AuthzPolicy {
 public:
  // INVALID_ARGUMENT naming `source` and the line of a rule it refuses.
  static absl::StatusOr<AuthzPolicy> Parse(absl::string_view text, absl::string_view source);
  static absl::StatusOr<AuthzPolicy> FromFile(const std::string& path);

  // Whether `principal` (authenticated) may call `method` ("/pkg.Service/M").
  bool Allows(const Principal& principal, absl::string_view method) const;

  size_t rule_count() const { return rules_; }

 private:
  absl::Status AddLine(absl::string_view line, int line_no);
  absl::Status AddGroup(const std::vector<std::string>& words);
  absl::Status AddAllow(const std::vector<std::string>& words, int line_no);

  // Caller ("*", a group name or a principal's PolicyName()) -> method
  // patterns. Group names hold no ':', every PolicyName() does.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> allowed_;
  // A principal's PolicyName() -> the groups it is in.
  absl::flat_hash_map<std::string, std::vector<std::string>> groups_of_;
  absl::flat_hash_set<std::string> groups_;
  std::vector<std::pair<int, std::string>> groups_allowed_;  // (line, group) to check
  size_t rules_ = 0;
};

// Health and reflection: answered to anyone, authenticated or not.
bool IsAlwaysAllowed(absl::string_view method);

}  // namespace booking

#endif  // BOOKING_COMMON_AUTHZ_POLICY_H_
