// The seed's post-migration checklist, end to end: the real migrator,
// history-service and booking-service on a real PostgreSQL, driven over gRPC;
// both stores checked afterwards.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/stack_suite.h"

namespace booking::testing {
namespace {

using v1::BookingStatus;

// The seed checklist's path from CONFIRMED to DELIVERED.
constexpr BookingStatus kPath[] = {v1::PICKUP_ASSIGNED, v1::PICKED_UP,        v1::AT_WORKSHOP,
                                   v1::IN_SERVICE,      v1::READY_FOR_RETURN, v1::RETURN_ASSIGNED,
                                   v1::RETURNED,        v1::DELIVERED};

class LifecycleTest : public StackSuite {
 protected:
  static void SetUpTestSuite() { StartStack("e2e"); }

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StackSuite::SetUp());
    bookings_ = v1::BookingService::NewStub(
        grpc::CreateChannel(set_->booking_target(), grpc::InsecureChannelCredentials()));
    history_ = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  }

  v1::Booking Create(bool paid, const std::string& reason = "booked") {
    v1::CreateBookingRequest request;
    request.set_customer_id("customer-1");
    request.set_payment_settled(paid);
    request.set_reason(reason);
    v1::Booking booking;
    grpc::Status status =
        bookings_->CreateBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return booking;
  }

  grpc::Status Change(const std::string& id, BookingStatus target, v1::ChangeStatusResponse* out,
                      const std::string& reason = "", int step = 0) {
    v1::ChangeStatusRequest request;
    request.set_booking_id(id);
    request.set_target_status(target);
    request.set_reason(reason);
    if (step > 0) (*request.mutable_metadata()->mutable_fields())["step"].set_number_value(step);
    return bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, out);
  }

  grpc::Status Extend(const std::string& id, v1::CreateExtensionResponse* out) {
    v1::CreateExtensionRequest request;
    request.set_booking_id(id);
    request.set_description("brake pads worn");
    request.set_price_cents(12900);
    return bookings_->CreateExtension(AuthedContext(ServiceSet::kToken).get(), request, out);
  }

  // Waits until the outbox is empty (everything acknowledged by history).
  void WaitOutboxDrained() {
    ASSERT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                             absl::Seconds(30)))
        << "outbox not drained\n"
        << set_->Logs();
  }

  history::v1::GetBookingHistoryResponse History(const std::string& id) {
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id(id);
    history::v1::GetBookingHistoryResponse response;
    grpc::ClientContext context;
    grpc::Status status = history_->GetBookingHistory(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Extension creation blocked when not IN_SERVICE (here AT_WORKSHOP).
  void ExpectExtensionRefused(const std::string& id) {
    v1::CreateExtensionResponse ext;
    grpc::Status refused = Extend(id, &ext);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(refused.error_message().find("IN_SERVICE"), std::string::npos);
    EXPECT_EQ(PreconditionSubjects(refused), std::set<std::string>{"AT_WORKSHOP"});
  }

  // IN_SERVICE at `version`: an extension keeps the booking IN_SERVICE and
  // records nothing; setting the current status again changes nothing.
  void ExpectExtensionInService(const std::string& id, int version) {
    v1::CreateExtensionResponse ext;
    grpc::Status created = Extend(id, &ext);
    ASSERT_TRUE(created.ok()) << created.error_message();
    EXPECT_FALSE(ext.extension().id().empty());
    EXPECT_EQ(ext.booking().status(), v1::IN_SERVICE);
    EXPECT_EQ(ext.booking().version(), version);
    v1::ChangeStatusResponse same;
    ASSERT_TRUE(Change(id, v1::IN_SERVICE, &same, "again").ok());
    EXPECT_FALSE(same.changed());
    EXPECT_EQ(same.booking().version(), version);
  }

  // Booking `id` through kPath, step by step, then DELIVERED again (no change).
  void WalkThePath(const std::string& id) {
    int step = 0;
    for (BookingStatus target : kPath) {
      ++step;
      if (target == v1::IN_SERVICE) ExpectExtensionRefused(id);
      v1::ChangeStatusResponse response;
      grpc::Status status = Change(id, target, &response, absl::StrCat("step ", step), step);
      ASSERT_TRUE(status.ok()) << BookingStatus_Name(target) << ": " << status.error_message();
      EXPECT_TRUE(response.changed());
      EXPECT_EQ(response.booking().status(), target);
      EXPECT_EQ(response.booking().version(), step + 1);
      if (target == v1::IN_SERVICE) {
        ASSERT_NO_FATAL_FAILURE(ExpectExtensionInService(id, step + 1));
      }
    }
    v1::ChangeStatusResponse same;
    ASSERT_TRUE(Change(id, v1::DELIVERED, &same, "again").ok());
    EXPECT_FALSE(same.changed());
  }

  // Cancel booking -> CANCELLED (a second booking), then nothing more.
  void CancelAndRefuseMore(std::string* id) {
    v1::Booking second = Create(/*paid=*/false);
    ASSERT_EQ(second.status(), v1::PENDING_PAYMENT);
    *id = second.id();
    v1::ChangeStatusResponse cancelled;
    ASSERT_TRUE(Change(second.id(), v1::CANCELLED, &cancelled, "customer cancelled").ok());
    EXPECT_EQ(cancelled.booking().status(), v1::CANCELLED);
    v1::ChangeStatusResponse refused;
    grpc::Status final_status = Change(second.id(), v1::CONFIRMED, &refused);
    EXPECT_EQ(final_status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(final_status.error_message().find("CANCELLED is final"), std::string::npos);
  }

  // Each change of the walked booking in history exactly once, in order,
  // with every field; the cancelled one's two changes.
  void ExpectHistories(const std::string& id, const std::string& cancelled_id) {
    history::v1::GetBookingHistoryResponse history = History(id);
    ASSERT_EQ(history.entries_size(), 9);
    std::string previous;
    for (int i = 0; i < history.entries_size(); ++i) {
      const history::v1::HistoryEntry& e = history.entries(i);
      EXPECT_EQ(e.sequence(), i + 1);
      EXPECT_EQ(e.from_status(), previous);
      EXPECT_EQ(e.to_status(), i == 0 ? "CONFIRMED" : BookingStatus_Name(kPath[i - 1]));
      EXPECT_EQ(e.changed_by(), ServiceSet::kPrincipal);
      EXPECT_EQ(e.reason(), i == 0 ? "booked online" : absl::StrCat("step ", i));
      if (i > 0) {
        ASSERT_EQ(e.metadata().fields().count("step"), 1u);
        EXPECT_EQ(e.metadata().fields().at("step").number_value(), i);
      }
      previous = e.to_status();
    }
    history::v1::GetBookingHistoryResponse second_history = History(cancelled_id);
    ASSERT_EQ(second_history.entries_size(), 2);
    EXPECT_EQ(second_history.entries(0).to_status(), "PENDING_PAYMENT");
    EXPECT_EQ(second_history.entries(1).from_status(), "PENDING_PAYMENT");
    EXPECT_EQ(second_history.entries(1).to_status(), "CANCELLED");
    EXPECT_EQ(second_history.entries(1).reason(), "customer cancelled");
  }

  // The history store itself: one row per event, nothing else; the booking
  // store agrees.
  void ExpectStoresAgree(const std::string& id) {
    pqxx::connection conn(set_->history_url());
    pqxx::nontransaction txn(conn);
    pqxx::result r = txn.exec_params(
        R"(SELECT count(*), count(DISTINCT "eventId"), min(sequence), max(sequence)
           FROM "BookingStatusHistory" WHERE "bookingId" = $1)",
        id);
    EXPECT_EQ(r[0][0].as<int>(), 9);
    EXPECT_EQ(r[0][1].as<int>(), 9);
    EXPECT_EQ(r[0][2].as<int>(), 1);
    EXPECT_EQ(r[0][3].as<int>(), 9);
    pqxx::connection bconn(set_->booking_url());
    pqxx::nontransaction btxn(bconn);
    pqxx::result b =
        btxn.exec_params(R"(SELECT status::text, version FROM "Booking" WHERE id = $1)", id);
    EXPECT_EQ(b[0][0].as<std::string>(), "DELIVERED");
    EXPECT_EQ(b[0][1].as<int>(), 9);
    EXPECT_EQ(btxn.exec_params(R"(SELECT count(*) FROM "BookingExtension" WHERE "bookingId" = $1)",
                               id)[0][0]
                  .as<int>(),
              1);
  }

  std::unique_ptr<v1::BookingService::Stub> bookings_;
  std::unique_ptr<history::v1::HistoryService::Stub> history_;
};

TEST_F(LifecycleTest, SeedChecklistEndToEnd) {
  // Create new booking -> CONFIRMED (payment settled).
  v1::Booking booking = Create(/*paid=*/true, "booked online");
  ASSERT_EQ(booking.status(), v1::CONFIRMED);
  ASSERT_EQ(booking.version(), 1);
  ASSERT_NO_FATAL_FAILURE(WalkThePath(booking.id()));
  std::string cancelled;
  ASSERT_NO_FATAL_FAILURE(CancelAndRefuseMore(&cancelled));
  ASSERT_NO_FATAL_FAILURE(WaitOutboxDrained());
  ASSERT_NO_FATAL_FAILURE(ExpectHistories(booking.id(), cancelled));
  ExpectStoresAgree(booking.id());
}

TEST_F(LifecycleTest, IllegalTransitionNamesTheAllowedNextStatuses) {
  v1::Booking booking = Create(/*paid=*/true);
  v1::ChangeStatusResponse response;
  grpc::Status status = Change(booking.id(), v1::DELIVERED, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("PICKUP_ASSIGNED, CANCELLED"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(PreconditionSubjects(status), (std::set<std::string>{"PICKUP_ASSIGNED", "CANCELLED"}));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(status, &info));
  EXPECT_EQ(info.reason(), "ILLEGAL_TRANSITION");
  EXPECT_EQ(info.metadata().at("from"), "CONFIRMED");
  EXPECT_EQ(info.metadata().at("to"), "DELIVERED");
  // Nothing was recorded for the refused change.
  WaitOutboxDrained();
  EXPECT_EQ(History(booking.id()).entries_size(), 1);
}

TEST_F(LifecycleTest, OldNamesAreAcceptedAndMappedForward) {
  v1::Booking booking = Create(/*paid=*/true);
// Old names are deprecated in the proto: exactly what this test sends.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const std::pair<BookingStatus, BookingStatus> old_to_new[] = {
      {v1::JOCKEY_ASSIGNED, v1::PICKUP_ASSIGNED},
      {v1::IN_TRANSIT_TO_WORKSHOP, v1::PICKED_UP},
      {v1::IN_WORKSHOP, v1::AT_WORKSHOP},
  };
#pragma GCC diagnostic pop
  for (const auto& [old_name, new_name] : old_to_new) {
    v1::ChangeStatusResponse response;
    grpc::Status status = Change(booking.id(), old_name, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.booking().status(), new_name);
  }
  WaitOutboxDrained();
  auto history = History(booking.id());
  ASSERT_EQ(history.entries_size(), 4);
  EXPECT_EQ(history.entries(1).to_status(), "PICKUP_ASSIGNED");
  EXPECT_EQ(history.entries(3).to_status(), "AT_WORKSHOP");
}

TEST_F(LifecycleTest, UnknownStatusIsInvalidArgument) {
  v1::Booking booking = Create(/*paid=*/true);
  for (int value : {0, 42, 100, 106}) {
    v1::ChangeStatusResponse response;
    grpc::Status status = Change(booking.id(), static_cast<BookingStatus>(value), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << value;
    google::rpc::BadRequest bad;
    ASSERT_TRUE(FindDetail(status, &bad)) << value;
    ASSERT_EQ(bad.field_violations_size(), 1);
    EXPECT_EQ(bad.field_violations(0).field(), "target_status");
  }
}

TEST_F(LifecycleTest, VersionConflictIsAbortedAndRetriesAreAnsweredOnce) {
  v1::Booking booking = Create(/*paid=*/true);
  v1::ChangeStatusRequest request;
  request.set_booking_id(booking.id());
  request.set_target_status(v1::PICKUP_ASSIGNED);
  request.set_expected_version(7);
  v1::ChangeStatusResponse response;
  grpc::Status conflict =
      bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response);
  ASSERT_EQ(conflict.error_code(), grpc::StatusCode::ABORTED);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(conflict, &info));
  EXPECT_EQ(info.reason(), "VERSION_MISMATCH");
  EXPECT_EQ(info.metadata().at("current_version"), "1");

  request.set_expected_version(1);
  request.set_request_id("retry-1");
  v1::ChangeStatusResponse first, retry;
  ASSERT_TRUE(
      bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &first).ok());
  // The retry (same request, same id) is answered from the record, even
  // though expected_version 1 is stale by now.
  grpc::Status again =
      bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &retry);
  ASSERT_TRUE(again.ok()) << again.error_message();
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(retry.booking().version(), 2);
  // The same id for a different request is refused.
  request.set_target_status(v1::CANCELLED);
  grpc::Status reused =
      bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &retry);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  WaitOutboxDrained();
  EXPECT_EQ(History(booking.id()).entries_size(), 2);
}

TEST_F(LifecycleTest, CallerIdentityComesFromCredentialsOnly) {
  v1::GetBookingRequest request;
  request.set_booking_id("whatever");
  v1::Booking booking;
  grpc::Status no_token = bookings_->GetBooking(AuthedContext("").get(), request, &booking);
  EXPECT_EQ(no_token.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status bad_token = bookings_->GetBooking(AuthedContext("nope").get(), request, &booking);
  EXPECT_EQ(bad_token.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status missing =
      bookings_->GetBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LifecycleTest, ListFiltersByStatusAndPages) {
  std::set<std::string> cancelled;
  for (int i = 0; i < 5; ++i) {
    v1::Booking b = Create(/*paid=*/false);
    v1::ChangeStatusResponse r;
    ASSERT_TRUE(Change(b.id(), v1::CANCELLED, &r).ok());
    cancelled.insert(b.id());
  }
  std::set<std::string> seen;
  v1::ListBookingsRequest request;
  request.set_status(v1::CANCELLED);
  request.set_page_size(2);
  int pages = 0;
  do {
    v1::ListBookingsResponse page;
    ASSERT_TRUE(
        bookings_->ListBookings(AuthedContext(ServiceSet::kToken).get(), request, &page).ok());
    for (const auto& b : page.bookings()) {
      EXPECT_EQ(b.status(), v1::CANCELLED);
      EXPECT_TRUE(seen.insert(b.id()).second) << "listed twice: " << b.id();
    }
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 100);
  for (const auto& id : cancelled) EXPECT_EQ(seen.count(id), 1u) << id;
  EXPECT_GE(pages, 3);

  // AIP-158: above the maximum is coerced to it; negative is refused.
  request.set_page_token("");
  request.set_page_size(5000);
  v1::ListBookingsResponse page;
  EXPECT_TRUE(
      bookings_->ListBookings(AuthedContext(ServiceSet::kToken).get(), request, &page).ok());
  EXPECT_GE(static_cast<size_t>(page.bookings_size()), cancelled.size());
  request.set_page_size(-1);
  EXPECT_EQ(
      bookings_->ListBookings(AuthedContext(ServiceSet::kToken).get(), request, &page).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace booking::testing
