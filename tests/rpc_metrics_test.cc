// The per-method RPC metrics (common/rpc_metrics.h) and the status-change
// counter, read from the live /metrics of both services over mTLS with a
// policy: k calls of each kind move exactly their series by exactly k.
// - unary OK (CreateBooking, ChangeStatus), unary NOT_FOUND (GetBooking);
// - a refused call whose request does not even parse: counted with the code
//   the caller gets (PERMISSION_DENIED), not the INVALID_ARGUMENT the
//   handler ended with before authz replaced it;
// - a refused Ingest stream, counted once at its end;
// - status changes by from/to, once per committed change (a replayed retry
//   is a second OK call but no second change).
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_client.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/secure_stack_suite.h"
#include "tests/support/security_stack.h"

namespace booking::testing {
namespace {

constexpr int kCalls = 3;
constexpr char kBooking[] = "booking.v1.BookingService";
constexpr char kHistory[] = "history.v1.HistoryService";

using Labels = std::map<std::string, std::string>;

Labels Series(const std::string& service, const std::string& method, const std::string& code = "") {
  Labels labels = {{"grpc_service", service}, {"grpc_method", method}};
  if (!code.empty()) labels["grpc_code"] = code;
  return labels;
}

// Cancels `id` as the writer with `request_id`; the call's status.
grpc::Status Cancel(SecureStack& stack, const std::string& id, const std::string& request_id) {
  const Caller writer = Caller::Token(SecureStack::kWriterToken);
  auto stub = v1::BookingService::NewStub(stack.Channel(stack.set().booking_target(), writer));
  v1::ChangeStatusRequest request;
  request.set_booking_id(id);
  request.set_target_status(v1::CANCELLED);
  request.set_request_id(request_id);
  v1::ChangeStatusResponse out;
  return stub->ChangeStatus(SecureStack::Context(writer).get(), request, &out);
}

grpc::Status Get(SecureStack& stack, const Caller& caller, const std::string& id) {
  auto stub = v1::BookingService::NewStub(stack.Channel(stack.set().booking_target(), caller));
  v1::GetBookingRequest request;
  request.set_booking_id(id);
  v1::Booking out;
  return stub->GetBooking(SecureStack::Context(caller).get(), request, &out);
}

// `bytes` (not a protobuf message) sent to `method` as `caller`.
grpc::Status RawCall(SecureStack& stack, const Caller& caller, const std::string& method,
                     const std::string& bytes) {
  auto context = SecureStack::Context(caller);
  return booking::testing::RawCall(stack.Channel(stack.set().booking_target(), caller),
                                   context.get(), method, bytes);
}

class RpcMetricsTest : public SecureStackSuite {
 protected:
  static void SetUpTestSuite() { StartSecureStack("rpcmetrics"); }

  static std::vector<MetricSample> Scrape(const std::string& target) {
    absl::StatusOr<std::vector<MetricSample>> samples = ScrapeSamples(target);
    EXPECT_TRUE(samples.ok()) << samples.status();
    return samples.ok() ? *std::move(samples) : std::vector<MetricSample>{};
  }
};

TEST_F(RpcMetricsTest, EveryMethodHasAnOkSeriesBeforeAnyCall) {
  const std::vector<MetricSample> booking = Scrape(stack_->set().booking_metrics_target());
  for (const char* method :
       {"CreateBooking", "GetBooking", "ListBookings", "ChangeStatus", "CreateExtension"}) {
    bool found = false;
    for (const MetricSample& s : booking) {
      found = found || (s.name == "grpc_server_handled_total" &&
                        s.labels == Labels{{"grpc_type", "unary"},
                                           {"grpc_service", kBooking},
                                           {"grpc_method", method},
                                           {"grpc_code", "OK"}});
    }
    EXPECT_TRUE(found) << method << " has no grpc_server_handled_total series with code OK";
  }
  const std::vector<MetricSample> history = Scrape(stack_->set().history_metrics_target());
  EXPECT_EQ(SumOf(history, "grpc_server_handled_total",
                  {{"grpc_method", "Ingest"}, {"grpc_type", "bidi_stream"}, {"grpc_code", "OK"}}),
            0);
}

// kCalls calls of each kind (any unexpected answer fails the test).
void CallsOfEachKind(SecureStack& stack) {
  const Caller reader = Caller::Token(SecureStack::kReaderToken);
  for (int i = 0; i < kCalls; ++i) {
    const std::string id = absl::StrCat("metrics-", i);
    ASSERT_TRUE(stack.CreateBooking(id).ok());
    // A retry with the same request id is replayed: an OK call, no change.
    for (int attempt = 0; attempt < 2; ++attempt) {
      grpc::Status s = Cancel(stack, id, absl::StrCat("cancel-", id));
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    EXPECT_EQ(Get(stack, reader, absl::StrCat("missing-", i)).error_code(),
              grpc::StatusCode::NOT_FOUND);
    // Readers may not change bookings: refused before the bytes are parsed.
    EXPECT_EQ(RawCall(stack, reader, "/booking.v1.BookingService/ChangeStatus", "\xff\xff\xff")
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(
        stack.ForgeNextEvent(Caller::Cert("intruder"), id, 2, "CONFIRMED", "CANCELLED", "intruder")
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
  }
}

double Moved(const std::vector<MetricSample>& before, const std::vector<MetricSample>& after,
             const std::string& name, const Labels& labels) {
  return SumOf(after, name, labels) - SumOf(before, name, labels);
}

// The counter, the histogram's count and its +Inf bucket of one series.
void ExpectSeriesMoved(const std::vector<MetricSample>& before,
                       const std::vector<MetricSample>& after, const Labels& series, double by) {
  Labels inf = series;
  inf["le"] = "+Inf";
  const std::string what = absl::StrCat(series.at("grpc_method"), " ", series.at("grpc_code"));
  EXPECT_EQ(Moved(before, after, "grpc_server_handled_total", series), by) << what;
  EXPECT_EQ(Moved(before, after, "grpc_server_handling_seconds_count", series), by) << what;
  EXPECT_EQ(Moved(before, after, "grpc_server_handling_seconds_bucket", inf), by) << what;
}

TEST_F(RpcMetricsTest, KCallsOfEachKindMoveTheirSeriesByExactlyK) {
  const std::string booking_metrics = stack_->set().booking_metrics_target();
  const std::string history_metrics = stack_->set().history_metrics_target();
  const std::vector<MetricSample> b0 = Scrape(booking_metrics), h0 = Scrape(history_metrics);
  ASSERT_NO_FATAL_FAILURE(CallsOfEachKind(*stack_));
  const std::vector<MetricSample> b1 = Scrape(booking_metrics), h1 = Scrape(history_metrics);
  ExpectSeriesMoved(b0, b1, Series(kBooking, "CreateBooking", "OK"), kCalls);
  ExpectSeriesMoved(b0, b1, Series(kBooking, "ChangeStatus", "OK"), 2 * kCalls);
  ExpectSeriesMoved(b0, b1, Series(kBooking, "GetBooking", "NotFound"), kCalls);
  // The code the caller got, not the one the handler ended with.
  ExpectSeriesMoved(b0, b1, Series(kBooking, "ChangeStatus", "PermissionDenied"), kCalls);
  ExpectSeriesMoved(b0, b1, Series(kBooking, "ChangeStatus", "InvalidArgument"), 0);
  ExpectSeriesMoved(h0, h1, Series(kHistory, "Ingest", "PermissionDenied"), kCalls);
  // Nothing else was called on booking-service, and nothing counted twice.
  EXPECT_EQ(Moved(b0, b1, "grpc_server_handled_total", {{"grpc_service", kBooking}}), 5 * kCalls);
  EXPECT_EQ(Moved(b0, b1, "grpc_server_started_total", {{"grpc_service", kBooking}}), 5 * kCalls);
  EXPECT_EQ(Moved(b0, b1, "grpc_server_started_total", Series(kBooking, "ChangeStatus")),
            3 * kCalls);
  // Messages: the refused raw calls' bytes never parsed, NOT_FOUND sent none.
  EXPECT_EQ(Moved(b0, b1, "grpc_server_msg_received_total", Series(kBooking, "ChangeStatus")),
            2 * kCalls);
  EXPECT_EQ(Moved(b0, b1, "grpc_server_msg_received_total", Series(kBooking, "GetBooking")),
            kCalls);
  EXPECT_EQ(Moved(b0, b1, "grpc_server_msg_sent_total", Series(kBooking, "GetBooking")), 0);
  EXPECT_EQ(Moved(b0, b1, "grpc_server_msg_sent_total", Series(kBooking, "CreateBooking")), kCalls);
  EXPECT_EQ(
      Moved(b0, b1, "booking_status_changes_total", {{"from", "CONFIRMED"}, {"to", "CANCELLED"}}),
      kCalls);
  EXPECT_EQ(Moved(b0, b1, "booking_status_changes_total", {}), kCalls);
}

}  // namespace
}  // namespace booking::testing
