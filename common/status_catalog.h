// The booking status model: the new status set, the old (legacy) labels still
// found in existing databases, the mappings between them, and the state
// machine. Every status check in every binary uses this one catalog.
#ifndef BOOKING_COMMON_STATUS_CATALOG_H_
#define BOOKING_COMMON_STATUS_CATALOG_H_

#include <array>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

// The new status set, in the order of the enum type's labels.
enum class Status {
  kPendingPayment,
  kConfirmed,
  kPickupAssigned,
  kPickedUp,
  kAtWorkshop,
  kInService,
  kReadyForReturn,
  kReturnAssigned,
  kReturned,
  kDelivered,
  kCancelled,
};
inline constexpr int kStatusCount = 11;

// Labels of the old set that the new set no longer has.
enum class LegacyStatus {
  kJockeyAssigned,
  kInTransitToWorkshop,
  kInWorkshop,
  kCompleted,
  kInTransitToCustomer,
};
inline constexpr int kLegacyStatusCount = 5;

const std::array<Status, kStatusCount>& AllStatuses();
// The old set's labels in its order, as existing databases hold them.
inline constexpr int kOldSetCount = 9;
const std::array<absl::string_view, kOldSetCount>& OldSetLabels();
const std::array<LegacyStatus, kLegacyStatusCount>& AllLegacyStatuses();

// The database label, which is also the name on the wire.
absl::string_view Label(Status status);
absl::string_view Label(LegacyStatus status);

std::optional<Status> ParseStatus(absl::string_view label);
std::optional<LegacyStatus> ParseLegacyStatus(absl::string_view label);

// Old -> new. IN_WORKSHOP maps to AT_WORKSHOP; the migrator alone may choose
// IN_SERVICE for rows an operator-given rule selects.
Status MapForward(LegacyStatus status);

// New -> the label of the old set a rollback writes (unchanged labels map to
// themselves, e.g. "CONFIRMED").
absl::string_view ReverseLabel(Status status);

// A label read from a store, old or new, as its new status. An unknown label
// is a data error (INTERNAL), not a caller error.
absl::StatusOr<Status> ResolveStoredLabel(absl::string_view label);

// The same, for a label stored with the exact new status kept beside it: a
// rollback of the status change writes an old label that may stand for
// several new ones (IN_WORKSHOP for AT_WORKSHOP and IN_SERVICE) and keeps
// the exact one. `exact` (empty: none) wins when it reads back as `label`.
absl::StatusOr<Status> ResolveStoredLabel(absl::string_view label, absl::string_view exact);

// Every label that may read as `status`: its own, and the old label it is
// stored as during a rollback (AT_WORKSHOP: {"AT_WORKSHOP", "IN_WORKSHOP"};
// IN_SERVICE: {"IN_SERVICE", "IN_WORKSHOP"}).
std::vector<absl::string_view> LabelsReadingAs(Status status);

// The state machine. Setting the status a booking already has is not a
// transition (callers treat it as a no-op before asking).
bool IsTransitionAllowed(Status from, Status to);
std::vector<Status> AllowedNext(Status from);
bool IsFinal(Status status);

// "PICKUP_ASSIGNED, CANCELLED" (or "none: CANCELLED is final").
std::string DescribeAllowedNext(Status from);

}  // namespace booking

#endif  // BOOKING_COMMON_STATUS_CATALOG_H_
