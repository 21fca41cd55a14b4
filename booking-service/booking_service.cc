#include "booking-service/booking_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/rpc_error.h"
#include "common/server_runtime.h"
#include "google/protobuf/util/json_util.h"

namespace booking {
namespace {

constexpr size_t kMaxMetadataBytes = 16 * 1024;
constexpr size_t kMaxReasonBytes = 1000;
constexpr size_t kMaxIdBytes = 200;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

absl::Status RequireId(absl::string_view field, const std::string& value) {
  if (value.empty()) return InvalidField(field, "required");
  if (value.size() > kMaxIdBytes) return InvalidField(field, "longer than 200 bytes");
  return absl::OkStatus();
}

// The request without its request id, hashed: equal for a retry, different
// for another request reusing the id.
std::string Fingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

template <typename Request>
std::string FingerprintWithoutRequestId(const Request& request) {
  Request copy = request;
  copy.clear_request_id();
  return Fingerprint(copy);
}

absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return InvalidField("page_size", "must be between 0 and 1000 (0 means 50)");
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

}  // namespace

BookingServiceImpl::BookingServiceImpl(BookingStore& store, const Authenticator& auth,
                                       LegacyNames legacy_names, prometheus::Registry& metrics)
    : store_(store),
      auth_(auth),
      legacy_names_(legacy_names),
      calls_(prometheus::BuildCounter()
                 .Name("booking_rpc_calls_total")
                 .Help("booking.v1 calls by method and status code")
                 .Register(metrics)) {}

grpc::Status BookingServiceImpl::Finish(absl::string_view method, const absl::Status& status) {
  calls_.Add({{"method", std::string(method)}, {"code", absl::StatusCodeToString(status.code())}})
      .Increment();
  return ToGrpcStatus(status);
}

absl::StatusOr<Mutation> BookingServiceImpl::MutationFor(const grpc::ServerContext& context,
                                                         const std::string& request_id,
                                                         const std::string& reason,
                                                         const google::protobuf::Struct* metadata) {
  absl::StatusOr<std::string> caller = auth_.Identify(context);
  if (!caller.ok()) return caller.status();
  if (request_id.size() > kMaxIdBytes) return InvalidField("request_id", "longer than 200 bytes");
  if (reason.size() > kMaxReasonBytes) return InvalidField("reason", "longer than 1000 bytes");
  Mutation m;
  m.caller = *std::move(caller);
  m.request_id = request_id;
  m.reason = reason;
  if (metadata != nullptr && metadata->fields_size() > 0) {
    if (!google::protobuf::util::MessageToJsonString(*metadata, &m.metadata_json).ok()) {
      return InvalidField("metadata", "cannot be written as JSON");
    }
    if (m.metadata_json.size() > kMaxMetadataBytes) {
      return InvalidField("metadata", "larger than 16 KiB as JSON");
    }
  }
  return m;
}

grpc::Status BookingServiceImpl::CreateBooking(grpc::ServerContext* context,
                                               const v1::CreateBookingRequest* request,
                                               v1::Booking* response) {
  auto run = [&]() -> absl::Status {
    if (request->booking_id().size() > kMaxIdBytes) {
      return InvalidField("booking_id", "longer than 200 bytes");
    }
    if (absl::Status s = RequireId("customer_id", request->customer_id()); !s.ok()) return s;
    absl::StatusOr<Mutation> m =
        MutationFor(*context, request->request_id(), request->reason(),
                    request->has_metadata() ? &request->metadata() : nullptr);
    if (!m.ok()) return m.status();
    m->fingerprint = m->request_id.empty() ? "" : FingerprintWithoutRequestId(*request);
    const Status initial =
        request->payment_settled() ? Status::kConfirmed : Status::kPendingPayment;
    absl::StatusOr<v1::Booking> booking = store_.Create(
        request->booking_id(), request->customer_id(), initial, *m, DeadlineOf(*context));
    if (!booking.ok()) return booking.status();
    *response = *std::move(booking);
    return absl::OkStatus();
  };
  return Finish("CreateBooking", run());
}

grpc::Status BookingServiceImpl::GetBooking(grpc::ServerContext* context,
                                            const v1::GetBookingRequest* request,
                                            v1::Booking* response) {
  auto run = [&]() -> absl::Status {
    if (auto caller = auth_.Identify(*context); !caller.ok()) return caller.status();
    if (absl::Status s = RequireId("booking_id", request->booking_id()); !s.ok()) return s;
    absl::StatusOr<v1::Booking> booking = store_.Get(request->booking_id(), DeadlineOf(*context));
    if (!booking.ok()) return booking.status();
    *response = *std::move(booking);
    return absl::OkStatus();
  };
  return Finish("GetBooking", run());
}

grpc::Status BookingServiceImpl::ListBookings(grpc::ServerContext* context,
                                              const v1::ListBookingsRequest* request,
                                              v1::ListBookingsResponse* response) {
  auto run = [&]() -> absl::Status {
    if (auto caller = auth_.Identify(*context); !caller.ok()) return caller.status();
    absl::StatusOr<int> page_size = PageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    std::optional<Status> filter;
    if (request->status() != v1::BOOKING_STATUS_UNSPECIFIED) {
      // Listing by an old name is harmless: always accepted.
      absl::StatusOr<Status> s = FromWire(request->status(), LegacyNames::kAccept, "status");
      if (!s.ok()) return s.status();
      filter = *s;
    }
    std::string after;
    if (!request->page_token().empty() &&
        !absl::WebSafeBase64Unescape(request->page_token(), &after)) {
      return InvalidField("page_token", "not a token returned by ListBookings");
    }
    absl::StatusOr<v1::ListBookingsResponse> page =
        store_.List(filter, *page_size, after, DeadlineOf(*context));
    if (!page.ok()) return page.status();
    *response = *std::move(page);
    if (!response->next_page_token().empty()) {
      response->set_next_page_token(absl::WebSafeBase64Escape(response->next_page_token()));
    }
    return absl::OkStatus();
  };
  return Finish("ListBookings", run());
}

grpc::Status BookingServiceImpl::ChangeStatus(grpc::ServerContext* context,
                                              const v1::ChangeStatusRequest* request,
                                              v1::ChangeStatusResponse* response) {
  auto run = [&]() -> absl::Status {
    if (absl::Status s = RequireId("booking_id", request->booking_id()); !s.ok()) return s;
    absl::StatusOr<Status> target =
        FromWire(request->target_status(), legacy_names_, "target_status");
    if (!target.ok()) return target.status();
    absl::StatusOr<Mutation> m =
        MutationFor(*context, request->request_id(), request->reason(),
                    request->has_metadata() ? &request->metadata() : nullptr);
    if (!m.ok()) return m.status();
    m->fingerprint = m->request_id.empty() ? "" : FingerprintWithoutRequestId(*request);
    std::optional<int64_t> expected;
    if (request->has_expected_version()) expected = request->expected_version();
    absl::StatusOr<v1::ChangeStatusResponse> result =
        store_.ChangeStatus(request->booking_id(), *target, expected, *m, DeadlineOf(*context));
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  };
  return Finish("ChangeStatus", run());
}

grpc::Status BookingServiceImpl::CreateExtension(grpc::ServerContext* context,
                                                 const v1::CreateExtensionRequest* request,
                                                 v1::CreateExtensionResponse* response) {
  auto run = [&]() -> absl::Status {
    if (absl::Status s = RequireId("booking_id", request->booking_id()); !s.ok()) return s;
    if (request->description().empty()) return InvalidField("description", "required");
    if (request->description().size() > kMaxReasonBytes) {
      return InvalidField("description", "longer than 1000 bytes");
    }
    if (request->price_cents() < 0) return InvalidField("price_cents", "must not be negative");
    absl::StatusOr<Mutation> m = MutationFor(*context, request->request_id(), "", nullptr);
    if (!m.ok()) return m.status();
    m->fingerprint = m->request_id.empty() ? "" : FingerprintWithoutRequestId(*request);
    absl::StatusOr<v1::CreateExtensionResponse> result =
        store_.CreateExtension(request->booking_id(), request->description(),
                               request->price_cents(), *m, DeadlineOf(*context));
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  };
  return Finish("CreateExtension", run());
}

}  // namespace booking
