// AIP conformance of booking.v1 and history.v1 on the real services:
//   - AIP-158: a page_size above the maximum is coerced to it (1,000), in
//     ListBookings, GetBookingHistory and ListHistory; negative is refused;
//   - AIP-193: every error either service returns carries a google.rpc
//     ErrorInfo with a reason and a domain (a table of bad calls of each).
#include <functional>

#include "absl/strings/str_cat.h"
#include "booking/v1/booking.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

constexpr int kLongHistory = 1100;  // entries of one booking, over the maximum page

class AipConformanceTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    auto set = ServiceSet::CreateAndStart(*pg_, "aip");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    IngestClient ingest(set_->history_target());
    std::vector<history::v1::StatusChangeEvent> events;
    for (int s = 1; s <= kLongHistory; ++s) {
      events.push_back(
          StatusEvent(EventId(900000 + s), "aip-long", s, s == 1 ? "" : "CONFIRMED", "CONFIRMED"));
    }
    absl::StatusOr<history::v1::IngestAck> ack = ingest.Send(events);
    ASSERT_TRUE(ack.ok()) << ack.status();
    ASSERT_EQ(ack->stored(), kLongHistory) << ack->DebugString();
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(set_, nullptr);
    bookings_ = v1::BookingService::NewStub(
        grpc::CreateChannel(set_->booking_target(), grpc::InsecureChannelCredentials()));
    history_ = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  }

  // A unary call with `bytes` as the request, as a client with other
  // protobuf definitions (or none) could send it.
  static grpc::Status RawCall(const std::string& target, const std::string& method,
                              const std::string& bytes) {
    auto context = AuthedContext(ServiceSet::kToken);
    return booking::testing::RawCall(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()), context.get(), method,
        bytes);
  }

  v1::Booking CreateBooking(const std::string& id) {
    v1::CreateBookingRequest request;
    request.set_booking_id(id);
    request.set_customer_id("customer-aip");
    v1::Booking booking;
    grpc::Status s =
        bookings_->CreateBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return booking;
  }

  inline static std::unique_ptr<ServiceSet> set_;
  std::unique_ptr<v1::BookingService::Stub> bookings_;
  std::unique_ptr<history::v1::HistoryService::Stub> history_;
};

TEST_F(AipConformanceTest, PageSizeAboveTheMaximumIsCoercedNegativeIsRefused) {
  history::v1::GetBookingHistoryRequest get;
  get.set_booking_id("aip-long");
  get.set_page_size(100000);
  history::v1::GetBookingHistoryResponse history_page;
  grpc::Status s =
      history_->GetBookingHistory(AuthedContext(ServiceSet::kToken).get(), get, &history_page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(history_page.entries_size(), 1000);
  EXPECT_FALSE(history_page.next_page_token().empty());

  history::v1::ListHistoryRequest list;
  list.set_page_size(100000);
  history::v1::ListHistoryResponse list_page;
  s = history_->ListHistory(AuthedContext(ServiceSet::kToken).get(), list, &list_page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(list_page.entries_size(), 1000);
  EXPECT_FALSE(list_page.next_page_token().empty());

  for (int i = 0; i < 3; ++i) CreateBooking(absl::StrCat("aip-page-", i));
  v1::ListBookingsRequest bookings;
  bookings.set_page_size(100000);
  v1::ListBookingsResponse bookings_page;
  s = bookings_->ListBookings(AuthedContext(ServiceSet::kToken).get(), bookings, &bookings_page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(bookings_page.bookings_size(), 3);
  EXPECT_LE(bookings_page.bookings_size(), 1000);

  get.set_page_size(-1);
  list.set_page_size(-1);
  bookings.set_page_size(-1);
  EXPECT_EQ(history_->GetBookingHistory(AuthedContext(ServiceSet::kToken).get(), get, &history_page)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      history_->ListHistory(AuthedContext(ServiceSet::kToken).get(), list, &list_page).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      bookings_->ListBookings(AuthedContext(ServiceSet::kToken).get(), bookings, &bookings_page)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

struct BadCall {
  std::string what;
  std::function<grpc::Status()> call;
  grpc::StatusCode code;
  std::string domain;
};

void ExpectErrorInfo(const BadCall& c) {
  const grpc::Status s = c.call();
  EXPECT_EQ(s.error_code(), c.code) << c.what << ": " << s.error_message();
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(s, &info)) << c.what << ": no ErrorInfo (" << s.error_message() << ")";
  EXPECT_FALSE(info.reason().empty()) << c.what;
  EXPECT_EQ(info.domain(), c.domain) << c.what;
}

TEST_F(AipConformanceTest, EveryBookingRequestErrorCarriesErrorInfo) {
  const auto token = [] { return AuthedContext(ServiceSet::kToken); };
  v1::Booking b;
  v1::ListBookingsResponse page;
  using grpc::StatusCode;
  const std::vector<BadCall> calls = {
      {"create, no id", [&] { return bookings_->CreateBooking(token().get(), {}, &b); },
       StatusCode::INVALID_ARGUMENT, "booking.v1"},
      {"get, unknown",
       [&] {
         v1::GetBookingRequest r;
         r.set_booking_id("aip-nobody");
         return bookings_->GetBooking(token().get(), r, &b);
       },
       StatusCode::NOT_FOUND, "booking.v1"},
      {"list, negative page",
       [&] {
         v1::ListBookingsRequest r;
         r.set_page_size(-5);
         return bookings_->ListBookings(token().get(), r, &page);
       },
       StatusCode::INVALID_ARGUMENT, "booking.v1"},
      {"list, bad token",
       [&] {
         v1::ListBookingsRequest r;
         r.set_page_token("%%%");
         return bookings_->ListBookings(token().get(), r, &page);
       },
       StatusCode::INVALID_ARGUMENT, "booking.v1"},
      {"no credentials", [&] { return bookings_->GetBooking(AuthedContext("").get(), {}, &b); },
       StatusCode::UNAUTHENTICATED, "auth.booking"},
      {"unparseable",
       [&] {
         return RawCall(set_->booking_target(), "/booking.v1.BookingService/CreateBooking",
                        std::string("\xff\xff\xff\xff\x0f garbage"));
       },
       StatusCode::INVALID_ARGUMENT, "booking.v1"},
  };
  for (const BadCall& c : calls) ExpectErrorInfo(c);
}

TEST_F(AipConformanceTest, EveryBookingStateErrorCarriesErrorInfo) {
  const v1::Booking booking = CreateBooking("aip-errors");
  const auto token = [] { return AuthedContext(ServiceSet::kToken); };
  v1::Booking b;
  v1::ChangeStatusResponse changed;
  using grpc::StatusCode;
  const std::vector<BadCall> calls = {
      {"create, taken id",
       [&] {
         v1::CreateBookingRequest r;
         r.set_booking_id("aip-errors");
         r.set_customer_id("someone-else");
         return bookings_->CreateBooking(token().get(), r, &b);
       },
       StatusCode::ALREADY_EXISTS, "booking.v1"},
      {"change, stale version",
       [&] {
         v1::ChangeStatusRequest r;
         r.set_booking_id(booking.id());
         r.set_target_status(v1::CANCELLED);
         r.set_expected_version(booking.version() + 7);
         return bookings_->ChangeStatus(token().get(), r, &changed);
       },
       StatusCode::ABORTED, "booking.v1"},
      {"change, illegal transition",
       [&] {
         v1::ChangeStatusRequest r;
         r.set_booking_id(booking.id());
         r.set_target_status(v1::DELIVERED);
         return bookings_->ChangeStatus(token().get(), r, &changed);
       },
       StatusCode::FAILED_PRECONDITION, "booking.v1"},
  };
  for (const BadCall& c : calls) ExpectErrorInfo(c);
}

TEST_F(AipConformanceTest, EveryBookingHistoryErrorCarriesErrorInfo) {
  const auto token = [] { return AuthedContext(ServiceSet::kToken); };
  history::v1::GetBookingHistoryResponse got;
  history::v1::VerifyHistoryResponse verified;
  using grpc::StatusCode;
  const std::vector<BadCall> calls = {
      {"history, no id", [&] { return history_->GetBookingHistory(token().get(), {}, &got); },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      {"history, negative page",
       [&] {
         history::v1::GetBookingHistoryRequest r;
         r.set_booking_id("aip-long");
         r.set_page_size(-1);
         return history_->GetBookingHistory(token().get(), r, &got);
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      {"history, bad token",
       [&] {
         history::v1::GetBookingHistoryRequest r;
         r.set_booking_id("aip-long");
         r.set_page_token("not-a-number");
         return history_->GetBookingHistory(token().get(), r, &got);
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      {"verify, no id", [&] { return history_->VerifyHistory(token().get(), {}, &verified); },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
  };
  for (const BadCall& c : calls) ExpectErrorInfo(c);
}

TEST_F(AipConformanceTest, EveryListHistoryErrorCarriesErrorInfo) {
  const auto token = [] { return AuthedContext(ServiceSet::kToken); };
  history::v1::ListHistoryResponse listed;
  using grpc::StatusCode;
  const std::vector<BadCall> calls = {
      {"list, bad filter",
       [&] {
         history::v1::ListHistoryRequest r;
         r.set_filter("to_status = A OR to_status = B");
         return history_->ListHistory(token().get(), r, &listed);
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      {"list, bad order",
       [&] {
         history::v1::ListHistoryRequest r;
         r.set_order_by("booking_id");
         return history_->ListHistory(token().get(), r, &listed);
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      {"list, bad token",
       [&] {
         history::v1::ListHistoryRequest r;
         r.set_page_token("AAAA");
         return history_->ListHistory(token().get(), r, &listed);
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      // (history-service here takes any caller; security_test has its refusals.)
      {"list, filter too long",
       [&] {
         history::v1::ListHistoryRequest r;
         r.set_filter(std::string(5000, 'x'));
         return history_->ListHistory(token().get(), r, &listed);
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
      {"unparseable",
       [&] {
         return RawCall(set_->history_target(), "/history.v1.HistoryService/ListHistory",
                        std::string("\x0a\x02\xff\xfe", 4));
       },
       StatusCode::INVALID_ARGUMENT, "history.v1"},
  };
  for (const BadCall& c : calls) ExpectErrorInfo(c);
}

}  // namespace
}  // namespace booking::testing
