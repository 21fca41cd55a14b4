// booking.v1.BookingStatus <-> the status catalog. Enum value names are the
// database labels, so the conversion goes by name.
#ifndef BOOKING_SERVICE_STATUS_WIRE_H_
#define BOOKING_SERVICE_STATUS_WIRE_H_

#include "absl/status/statusor.h"
#include "booking/v1/booking.pb.h"
#include "common/status_catalog.h"

namespace booking {

v1::BookingStatus ToWire(Status status);

enum class LegacyNames { kAccept, kReject };

// A status named by a caller. Old names map forward while accepted, and are
// FAILED_PRECONDITION (naming the new name) once the window has closed;
// unspecified or unknown values are INVALID_ARGUMENT on `field`.
absl::StatusOr<Status> FromWire(v1::BookingStatus wire, LegacyNames legacy,
                                absl::string_view field);

}  // namespace booking

#endif  // BOOKING_SERVICE_STATUS_WIRE_H_
