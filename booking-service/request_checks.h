// The booking API's input checks, pure functions of a request (no caller, no
// store), so they are unit-tested and fuzzed on their own. Limits come from
// common/limits.h.
#ifndef BOOKING_SERVICE_REQUEST_CHECKS_H_
#define BOOKING_SERVICE_REQUEST_CHECKS_H_

#include <string>

#include "absl/status/statusor.h"
#include "booking/v1/booking.pb.h"

namespace booking {

// What the checks of a mutating request produce for the store.
struct CheckedMutation {
  std::string metadata_json;  // empty: no metadata
};

absl::StatusOr<CheckedMutation> CheckRequest(const v1::CreateBookingRequest& request);
absl::StatusOr<CheckedMutation> CheckRequest(const v1::ChangeStatusRequest& request);
absl::StatusOr<CheckedMutation> CheckRequest(const v1::CreateExtensionRequest& request);
absl::Status CheckRequest(const v1::GetBookingRequest& request);

// ListBookings: the page size to use and the id to continue after.
struct ListPage {
  int page_size = 0;
  std::string after_id;
};
absl::StatusOr<ListPage> CheckRequest(const v1::ListBookingsRequest& request);

// The page token ListBookings hands out for continuing after `id`.
std::string ListPageToken(const std::string& id);

}  // namespace booking

#endif  // BOOKING_SERVICE_REQUEST_CHECKS_H_
