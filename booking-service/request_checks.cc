#include "booking-service/request_checks.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/rpc_error.h"

namespace booking {
namespace {

constexpr int kDefaultPageSize = 50;

// The fields every mutation has: an optional request id, a reason and
// metadata.
absl::StatusOr<CheckedMutation> CheckMutation(const std::string& request_id,
                                              const std::string& reason,
                                              const google::protobuf::Struct& metadata) {
  if (absl::Status s = CheckId("request_id", request_id, /*optional=*/true); !s.ok()) return s;
  if (absl::Status s = CheckText("reason", reason); !s.ok()) return s;
  absl::StatusOr<std::string> json = MetadataToJson("metadata", metadata);
  if (!json.ok()) return json.status();
  return CheckedMutation{*std::move(json)};
}

}  // namespace

absl::StatusOr<CheckedMutation> CheckRequest(const v1::CreateBookingRequest& request) {
  // An empty booking id asks the service to make one.
  if (absl::Status s = CheckId("booking_id", request.booking_id(), /*optional=*/true); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckId("customer_id", request.customer_id()); !s.ok()) return s;
  return CheckMutation(request.request_id(), request.reason(), request.metadata());
}

absl::StatusOr<CheckedMutation> CheckRequest(const v1::ChangeStatusRequest& request) {
  if (absl::Status s = CheckId("booking_id", request.booking_id()); !s.ok()) return s;
  return CheckMutation(request.request_id(), request.reason(), request.metadata());
}

absl::StatusOr<CheckedMutation> CheckRequest(const v1::CreateExtensionRequest& request) {
  if (absl::Status s = CheckId("booking_id", request.booking_id()); !s.ok()) return s;
  if (request.description().empty()) return InvalidField("description", "required");
  if (absl::Status s = CheckText("description", request.description()); !s.ok()) return s;
  if (request.price_cents() < 0) return InvalidField("price_cents", "must not be negative");
  return CheckMutation(request.request_id(), "", google::protobuf::Struct());
}

absl::Status CheckRequest(const v1::GetBookingRequest& request) {
  return CheckId("booking_id", request.booking_id());
}

absl::StatusOr<ListPage> CheckRequest(const v1::ListBookingsRequest& request) {
  ListPage page;
  absl::StatusOr<int> page_size = PageSizeOf(request.page_size(), kDefaultPageSize);
  if (!page_size.ok()) return page_size.status();
  page.page_size = *page_size;
  if (request.page_token().empty()) return page;
  const absl::Status bad_token = InvalidField("page_token", "not a token returned by ListBookings");
  if (request.page_token().size() > limits::kMaxPageTokenBytes ||
      !absl::WebSafeBase64Unescape(request.page_token(), &page.after_id) ||
      !CheckId("page_token", page.after_id).ok()) {
    return bad_token;
  }
  return page;
}

std::string ListPageToken(const std::string& id) { return absl::WebSafeBase64Escape(id); }

}  // namespace booking
