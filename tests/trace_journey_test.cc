// One change's journey followed by its W3C traceparent: the id the caller
// sends (or the service starts) is in booking-service's log line for the
// change, in its outbox row, in the history row, in GetBookingHistory's entry
// and in history-service's log line, on the real binaries and PostgreSQL.
// history-service starts only after the changes, so the outbox rows are still
// there to read: each test has its own stores and services (on the suite's
// PostgreSQL), booking-service alone until a test starts history-service.
#include <stdlib.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "booking/v1/booking.grpc.pb.h"
#include "common/trace_context.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

constexpr char kCallerTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kCallerSpan[] = "00f067aa0ba902b7";

// The traceparent booking-service answered with (initial metadata).
std::string AnsweredTraceparent(const grpc::ClientContext& context) {
  auto it = context.GetServerInitialMetadata().find("traceparent");
  if (it == context.GetServerInitialMetadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The lines of `log` with message `msg` that carry `traceparent`.
int LinesWith(const std::string& log, const std::string& msg, const std::string& traceparent) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, absl::StrCat("\"msg\":\"", msg, "\"")) &&
        absl::StrContains(line, absl::StrCat("\"traceparent\":\"", traceparent, "\""))) {
      ++n;
    }
  }
  return n;
}

class TraceJourneyTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    // history-service writes "history entry stored" at debug for an event
    // whose trace is not sampled (at info only sampled ones, and one line per
    // interval); the services inherit the environment.
    setenv("LOG_LEVEL", "debug", 1);
    PgSuite::SetUpTestSuite();
  }

  void SetUp() override {
    PgSuite::SetUp();
    if (HasFatalFailure()) return;
    static int n = 0;
    auto services =
        ServiceSet::CreateAndStart(*pg_, absl::StrCat("trace", ++n), {.start_history = false});
    ASSERT_TRUE(services.ok()) << services.status();
    services_ = *std::move(services);
    bookings_ = v1::BookingService::NewStub(
        grpc::CreateChannel(services_->booking_target(), grpc::InsecureChannelCredentials()));
  }

  // Creates a booking, sending `traceparent` (none when empty); returns the
  // booking id and the traceparent answered.
  std::pair<std::string, std::string> Create(const std::string& traceparent) {
    v1::CreateBookingRequest request;
    request.set_customer_id("customer-trace");
    auto context = AuthedContext(ServiceSet::kToken);
    if (!traceparent.empty()) context->AddMetadata("traceparent", traceparent);
    v1::Booking booking;
    grpc::Status status = bookings_->CreateBooking(context.get(), request, &booking);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {booking.id(), AnsweredTraceparent(*context)};
  }

  std::string OutboxTrace(const std::string& booking_id, int sequence) {
    return QueryValue(
        services_->booking_url(),
        absl::StrCat(R"(SELECT "traceParent" FROM "BookingOutbox" WHERE "bookingId" = ')",
                     booking_id, "' AND sequence = ", sequence));
  }

  std::unique_ptr<ServiceSet> services_;
  std::unique_ptr<v1::BookingService::Stub> bookings_;
};

TEST_F(TraceJourneyTest, OneTraceparentFindsTheWholeJourney) {
  const std::string sent = absl::StrCat("00-", kCallerTrace, "-", kCallerSpan, "-01");
  auto [id, answered] = Create(sent);
  ASSERT_FALSE(id.empty());
  // booking-service's span of the caller's trace.
  std::optional<TraceContext> span = ParseTraceparent(answered);
  ASSERT_TRUE(span.has_value()) << answered;
  EXPECT_EQ(span->trace_id, kCallerTrace);
  EXPECT_NE(span->parent_id, kCallerSpan);
  EXPECT_EQ(span->flags, "01");

  v1::ChangeStatusRequest change;
  change.set_booking_id(id);
  change.set_target_status(v1::CANCELLED);
  auto context = AuthedContext(ServiceSet::kToken);
  const std::string second_sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
  context->AddMetadata("traceparent", second_sent);
  v1::ChangeStatusResponse changed;
  ASSERT_TRUE(bookings_->ChangeStatus(context.get(), change, &changed).ok());
  const std::string second = AnsweredTraceparent(*context);
  ASSERT_EQ(ParseTraceparent(second)->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(ParseTraceparent(second)->flags, "00");  // not sampled by the caller

  // The booking-service log and the outbox rows, history not yet started.
  const std::string booking_log = ReadFile(services_->log_dir() + "/booking.log");
  EXPECT_EQ(LinesWith(booking_log, "booking status changed", answered), 1) << booking_log;
  EXPECT_EQ(LinesWith(booking_log, "booking status changed", second), 1) << booking_log;
  EXPECT_EQ(OutboxTrace(id, 1), answered);
  EXPECT_EQ(OutboxTrace(id, 2), second);

  // Delivered: the history rows, the API's entries, history-service's log.
  ASSERT_TRUE(services_->StartHistory().ok()) << services_->Logs();
  ASSERT_TRUE(WaitForCount(services_->history_url(),
                           absl::StrCat(R"(SELECT count(*) FROM "BookingStatusHistory"
                                           WHERE "bookingId" = ')",
                                        id, "'"),
                           2, absl::Seconds(30)))
      << services_->Logs();
  EXPECT_EQ(QueryText(services_->history_url(),
                      absl::StrCat(R"(SELECT "traceParent" FROM "BookingStatusHistory"
                                      WHERE "bookingId" = ')",
                                   id, "' ORDER BY sequence")),
            absl::StrCat(answered, "|\n", second, "|\n"));
  auto history = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(services_->history_target(), grpc::InsecureChannelCredentials()));
  history::v1::GetBookingHistoryRequest read;
  read.set_booking_id(id);
  history::v1::GetBookingHistoryResponse entries;
  ASSERT_TRUE(
      history->GetBookingHistory(AuthedContext(ServiceSet::kToken).get(), read, &entries).ok());
  ASSERT_EQ(entries.entries_size(), 2);
  EXPECT_EQ(entries.entries(0).traceparent(), answered);
  EXPECT_EQ(entries.entries(1).traceparent(), second);
  const std::string history_log = ReadFile(services_->log_dir() + "/history.log");
  EXPECT_EQ(LinesWith(history_log, "history entry stored", answered), 1) << history_log;
  EXPECT_EQ(LinesWith(history_log, "history entry stored", second), 1) << history_log;
}

TEST_F(TraceJourneyTest, WithoutAValidTraceparentEachChangeStartsATrace) {
  // None, malformed, and two headers (invalid per the specification).
  auto [none_id, none] = Create("");
  auto [bad_id, bad] = Create("00-XYZ-not-a-trace");
  v1::CreateBookingRequest request;
  request.set_customer_id("customer-trace");
  auto context = AuthedContext(ServiceSet::kToken);
  context->AddMetadata("traceparent", absl::StrCat("00-", kCallerTrace, "-", kCallerSpan, "-01"));
  context->AddMetadata("traceparent", absl::StrCat("00-", kCallerTrace, "-", kCallerSpan, "-01"));
  v1::Booking twice;
  ASSERT_TRUE(bookings_->CreateBooking(context.get(), request, &twice).ok());
  const std::string doubled = AnsweredTraceparent(*context);
  for (const std::string& t : {none, bad, doubled}) {
    std::optional<TraceContext> parsed = ParseTraceparent(t);
    ASSERT_TRUE(parsed.has_value()) << t;
    EXPECT_NE(parsed->trace_id, kCallerTrace);
  }
  EXPECT_NE(ParseTraceparent(none)->trace_id, ParseTraceparent(bad)->trace_id);
  EXPECT_EQ(OutboxTrace(none_id, 1), none);
  EXPECT_EQ(OutboxTrace(bad_id, 1), bad);
  EXPECT_EQ(OutboxTrace(twice.id(), 1), doubled);
}

}  // namespace
}  // namespace booking::testing
