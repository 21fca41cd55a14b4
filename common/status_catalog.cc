#include "common/status_catalog.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace booking {
namespace {

constexpr std::array<Status, kStatusCount> kStatuses = {
    Status::kPendingPayment, Status::kConfirmed, Status::kPickupAssigned, Status::kPickedUp,
    Status::kAtWorkshop,     Status::kInService, Status::kReadyForReturn, Status::kReturnAssigned,
    Status::kReturned,       Status::kDelivered, Status::kCancelled,
};

constexpr std::array<absl::string_view, kStatusCount> kLabels = {
    "PENDING_PAYMENT", "CONFIRMED",  "PICKUP_ASSIGNED",  "PICKED_UP",
    "AT_WORKSHOP",     "IN_SERVICE", "READY_FOR_RETURN", "RETURN_ASSIGNED",
    "RETURNED",        "DELIVERED",  "CANCELLED",
};

constexpr std::array<LegacyStatus, kLegacyStatusCount> kLegacyStatuses = {
    LegacyStatus::kJockeyAssigned, LegacyStatus::kInTransitToWorkshop, LegacyStatus::kInWorkshop,
    LegacyStatus::kCompleted,      LegacyStatus::kInTransitToCustomer,
};

struct LegacyEntry {
  absl::string_view label;
  Status forward;
};
constexpr std::array<LegacyEntry, kLegacyStatusCount> kLegacy = {{
    {"JOCKEY_ASSIGNED", Status::kPickupAssigned},
    {"IN_TRANSIT_TO_WORKSHOP", Status::kPickedUp},
    {"IN_WORKSHOP", Status::kAtWorkshop},
    {"COMPLETED", Status::kReadyForReturn},
    {"IN_TRANSIT_TO_CUSTOMER", Status::kReturnAssigned},
}};

constexpr std::array<absl::string_view, kOldSetCount> kOldSet = {
    "PENDING_PAYMENT",        "CONFIRMED",   "JOCKEY_ASSIGNED",
    "IN_TRANSIT_TO_WORKSHOP", "IN_WORKSHOP", "COMPLETED",
    "IN_TRANSIT_TO_CUSTOMER", "DELIVERED",   "CANCELLED"};

// The state machine: the one table of allowed transitions.
constexpr std::pair<Status, Status> kTransitions[] = {
    {Status::kPendingPayment, Status::kConfirmed},
    {Status::kPendingPayment, Status::kCancelled},
    {Status::kConfirmed, Status::kPickupAssigned},
    {Status::kConfirmed, Status::kCancelled},
    {Status::kPickupAssigned, Status::kPickedUp},
    {Status::kPickupAssigned, Status::kConfirmed},  // driver unassigned
    {Status::kPickupAssigned, Status::kCancelled},
    {Status::kPickedUp, Status::kAtWorkshop},
    {Status::kAtWorkshop, Status::kInService},
    {Status::kInService, Status::kReadyForReturn},
    {Status::kReadyForReturn, Status::kReturnAssigned},
    {Status::kReturnAssigned, Status::kReturned},
    {Status::kReturnAssigned, Status::kReadyForReturn},  // return driver unassigned
    {Status::kReturned, Status::kDelivered},
};

int Index(Status s) { return static_cast<int>(s); }
int Index(LegacyStatus s) { return static_cast<int>(s); }

}  // namespace

const std::array<Status, kStatusCount>& AllStatuses() { return kStatuses; }
const std::array<LegacyStatus, kLegacyStatusCount>& AllLegacyStatuses() { return kLegacyStatuses; }
const std::array<absl::string_view, kOldSetCount>& OldSetLabels() { return kOldSet; }

absl::string_view Label(Status status) { return kLabels[Index(status)]; }
absl::string_view Label(LegacyStatus status) { return kLegacy[Index(status)].label; }

std::optional<Status> ParseStatus(absl::string_view label) {
  for (Status s : kStatuses) {
    if (Label(s) == label) return s;
  }
  return std::nullopt;
}

std::optional<LegacyStatus> ParseLegacyStatus(absl::string_view label) {
  for (LegacyStatus s : kLegacyStatuses) {
    if (Label(s) == label) return s;
  }
  return std::nullopt;
}

Status MapForward(LegacyStatus status) { return kLegacy[Index(status)].forward; }

absl::string_view ReverseLabel(Status status) {
  switch (status) {
    case Status::kInService:
      return Label(LegacyStatus::kInWorkshop);
    case Status::kReturned:
      return Label(LegacyStatus::kInTransitToCustomer);
    default:
      break;
  }
  for (const LegacyEntry& e : kLegacy) {
    if (e.forward == status) return e.label;
  }
  return Label(status);
}

absl::StatusOr<Status> ResolveStoredLabel(absl::string_view label) {
  if (auto s = ParseStatus(label)) return *s;
  if (auto legacy = ParseLegacyStatus(label)) return MapForward(*legacy);
  return absl::InternalError(
      absl::StrCat("unknown booking status label in store: \"", label, "\""));
}

absl::StatusOr<Status> ResolveStoredLabel(absl::string_view label, absl::string_view exact) {
  if (!exact.empty()) {
    std::optional<Status> e = ParseStatus(exact);
    if (e && ReverseLabel(*e) == label) return *e;
  }
  return ResolveStoredLabel(label);
}

std::vector<absl::string_view> LabelsReadingAs(Status status) {
  std::vector<absl::string_view> labels = {Label(status)};
  if (ReverseLabel(status) != Label(status)) labels.push_back(ReverseLabel(status));
  return labels;
}

bool IsTransitionAllowed(Status from, Status to) {
  for (const auto& [f, t] : kTransitions) {
    if (f == from && t == to) return true;
  }
  return false;
}

std::vector<Status> AllowedNext(Status from) {
  std::vector<Status> next;
  for (const auto& [f, t] : kTransitions) {
    if (f == from) next.push_back(t);
  }
  return next;
}

bool IsFinal(Status status) { return AllowedNext(status).empty(); }

std::string DescribeAllowedNext(Status from) {
  std::vector<Status> next = AllowedNext(from);
  if (next.empty()) return absl::StrCat("none: ", Label(from), " is final");
  return absl::StrJoin(next, ", ",
                       [](std::string* out, Status s) { absl::StrAppend(out, Label(s)); });
}

}  // namespace booking
