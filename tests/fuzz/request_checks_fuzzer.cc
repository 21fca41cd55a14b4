// The booking API's request validation (booking-service/request_checks.h):
// the input is parsed as each request type it can be, and each check either
// accepts what the store may keep or refuses with a field violation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "booking-service/request_checks.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using booking::fuzz::CheckMetadataResult;
using booking::fuzz::CheckRefusal;
using booking::fuzz::ReferenceUtf8;
using booking::fuzz::Require;

bool IsId(const std::string& id) {
  if (id.empty() || id.size() > booking::limits::kMaxIdBytes) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

bool IsOptionalId(const std::string& id) { return id.empty() || IsId(id); }

bool IsText(const std::string& text, size_t max_bytes = booking::limits::kMaxTextBytes) {
  return text.size() <= max_bytes && text.find('\0') == std::string::npos && ReferenceUtf8(text);
}

template <typename Request>
bool Parse(const uint8_t* data, size_t size, Request* request) {
  return request->ParseFromArray(data, static_cast<int>(size));
}

// A mutation's metadata JSON: what MetadataToJson makes of the request's.
void CheckMutation(const absl::StatusOr<booking::CheckedMutation>& checked,
                   const google::protobuf::Struct& metadata) {
  if (!checked.ok()) {
    CheckRefusal(checked.status());
    return;
  }
  CheckMetadataResult(metadata, checked->metadata_json);
}

// The input read as CreateBooking and ChangeStatus requests.
void CheckStatusWrites(const uint8_t* data, size_t size) {
  if (booking::v1::CreateBookingRequest r; Parse(data, size, &r)) {
    const auto checked = booking::CheckRequest(r);
    if (checked.ok()) {
      Require(IsOptionalId(r.booking_id()) && IsId(r.customer_id()) &&
                  IsOptionalId(r.request_id()) && IsText(r.reason()),
              "CreateBooking: accepted ids are 1..200 visible ASCII, reason is text");
    }
    CheckMutation(checked, r.metadata());
  }

  if (booking::v1::ChangeStatusRequest r; Parse(data, size, &r)) {
    const auto checked = booking::CheckRequest(r);
    if (checked.ok()) {
      Require(IsId(r.booking_id()) && IsOptionalId(r.request_id()) && IsText(r.reason()),
              "ChangeStatus: accepted ids are 1..200 visible ASCII, reason is text");
    }
    CheckMutation(checked, r.metadata());
  }
}

// The input read as CreateExtension and GetBooking requests.
void CheckExtensionAndGet(const uint8_t* data, size_t size) {
  if (booking::v1::CreateExtensionRequest r; Parse(data, size, &r)) {
    const auto checked = booking::CheckRequest(r);
    if (checked.ok()) {
      Require(IsId(r.booking_id()) && IsOptionalId(r.request_id()) && !r.description().empty() &&
                  IsText(r.description()) && r.price_cents() >= 0,
              "CreateExtension: accepted ids are 1..200 visible ASCII, description is text, "
              "price is not negative");
      Require(checked->metadata_json.empty(), "CreateExtension: no metadata");
    } else {
      CheckRefusal(checked.status());
    }
  }

  if (booking::v1::GetBookingRequest r; Parse(data, size, &r)) {
    const absl::Status checked = booking::CheckRequest(r);
    if (checked.ok()) {
      Require(IsId(r.booking_id()), "GetBooking: accepted id is 1..200 visible ASCII");
    } else {
      CheckRefusal(checked);
    }
  }
}

// The input read as a ListBookings request: page size and page token.
void CheckList(const uint8_t* data, size_t size) {
  if (booking::v1::ListBookingsRequest r; Parse(data, size, &r)) {
    const auto checked = booking::CheckRequest(r);
    if (checked.ok()) {
      Require(checked->page_size >= 1 && checked->page_size <= booking::limits::kMaxPageSize,
              "ListBookings: page size is 1..kMaxPageSize");
      Require(r.page_token().empty() ? checked->after_id.empty() : IsId(checked->after_id),
              "ListBookings: the id a token continues after is 1..200 visible ASCII");
      if (!checked->after_id.empty()) {
        // A token handed out for that id is accepted and continues after it.
        booking::v1::ListBookingsRequest again;
        again.set_page_token(booking::ListPageToken(checked->after_id));
        const auto reread = booking::CheckRequest(again);
        Require(reread.ok() && reread->after_id == checked->after_id,
                "ListBookings: ListPageToken(id) continues after id");
      }
    } else {
      CheckRefusal(checked.status());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  booking::fuzz::QuietProtobuf();
  CheckStatusWrites(data, size);
  CheckExtensionAndGet(data, size);
  CheckList(data, size);
  return 0;
}
