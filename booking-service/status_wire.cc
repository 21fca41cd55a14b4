#include "booking-service/status_wire.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"

namespace booking {

v1::BookingStatus ToWire(Status status) {
  v1::BookingStatus wire = v1::BOOKING_STATUS_UNSPECIFIED;
  v1::BookingStatus_Parse(std::string(Label(status)), &wire);
  return wire;
}

absl::StatusOr<Status> FromWire(v1::BookingStatus wire, LegacyNames legacy,
                                absl::string_view field) {
  const std::string name =
      v1::BookingStatus_IsValid(wire) ? v1::BookingStatus_Name(wire) : std::string();
  if (auto status = ParseStatus(name)) return *status;
  if (auto old = ParseLegacyStatus(name)) {
    const Status mapped = MapForward(*old);
    if (legacy == LegacyNames::kAccept) return mapped;
    return RpcError(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat("status ", name, " was renamed; use ", Label(mapped)))
        .Info("STATUS_RENAMED", "booking.v1", {{"old", name}, {"new", std::string(Label(mapped))}})
        .Precondition("STATUS_NAME", name, absl::StrCat("use ", Label(mapped)));
  }
  const std::string shown = name.empty() ? absl::StrCat(static_cast<int>(wire)) : name;
  return RpcError(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("unknown booking status ", shown))
      .FieldViolation(std::string(field),
                      absl::StrCat("unknown booking status ", shown,
                                   "; expected one of PENDING_PAYMENT, CONFIRMED, PICKUP_ASSIGNED, "
                                   "PICKED_UP, AT_WORKSHOP, IN_SERVICE, READY_FOR_RETURN, "
                                   "RETURN_ASSIGNED, RETURNED, DELIVERED, CANCELLED"));
}

}  // namespace booking
