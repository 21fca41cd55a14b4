// Server reflection v1 (grpc.reflection.v1), as a client that speaks only v1
// uses it (Postman, evans, newer grpc_cli): this binary compiles the v1
// protocol and nothing else, no booking.v1, history.v1 or v1alpha code. On
// both servers and on their health ports (--health-listen) it lists the
// services, builds descriptor pools from what the server sends, calls methods
// from JSON and reads the answers as JSON; v1alpha, asked the same on the wire
// (the two versions' messages are the same), sends the same descriptors.
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/json_call.h"
#include "tests/support/reflection_client.h"
#include "tests/support/service_set.h"
#include "tests/support/stack_suite.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

namespace pb = google::protobuf;

struct V1 {
  using ServerReflection = grpc::reflection::v1::ServerReflection;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};

constexpr char kBookingService[] = "booking.v1.BookingService";
constexpr char kHistoryService[] = "history.v1.HistoryService";
constexpr char kHealthService[] = "grpc.health.v1.Health";
constexpr char kReflectionV1[] = "grpc.reflection.v1.ServerReflection";
constexpr char kReflectionV1Alpha[] = "grpc.reflection.v1alpha.ServerReflection";

std::set<std::string> Listed(const std::string& target) {
  ReflectionClient<V1> client(target);
  absl::StatusOr<std::vector<std::string>> listed = client.ListServices();
  EXPECT_TRUE(listed.ok()) << target << ": " << listed.status();
  return listed.ok() ? std::set<std::string>(listed->begin(), listed->end())
                     : std::set<std::string>();
}

// Sends `request` (v1) to grpc.reflection.v1alpha on one stream, as bytes, and
// reads the answer as v1: the same on the wire.
absl::StatusOr<V1::Response> AskV1Alpha(const std::string& target, const V1::Request& request) {
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context, absl::StrCat("/", kReflectionV1Alpha, "/ServerReflectionInfo"), &cq);
  // One operation at a time: each waits for its own completion.
  const auto completed = [&cq]() {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer out(&slice, 1);
  grpc::ByteBuffer in;
  grpc::Status status;
  call->StartCall(nullptr);
  const bool started = completed();
  if (started) call->Write(out, nullptr);
  const bool written = started && completed();
  if (written) call->Read(&in, nullptr);
  const bool read = written && completed();
  if (read) call->WritesDone(nullptr);
  if (read && completed()) {
    call->Finish(&status, nullptr);
    completed();
  } else {
    context.TryCancel();
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  std::vector<grpc::Slice> slices;
  if (!read || !in.Dump(&slices).ok()) {
    return absl::UnavailableError(absl::StrCat("v1alpha stream broke: ", status.error_message()));
  }
  std::string answer;
  for (const grpc::Slice& s : slices)
    answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
  V1::Response response;
  if (!response.ParseFromString(answer)) return absl::InternalError("unparsable v1alpha answer");
  return response;
}

class ReflectionV1Test : public StackSuite {
 protected:
  // Both with a health port: the health-only process serves reflection too.
  static void SetUpTestSuite() { StartStack("reflection1", {.health_ports = true}); }

  // (target, the project's service) for both servers.
  static std::vector<std::pair<std::string, std::string>> Servers() {
    return {{set_->booking_target(), kBookingService}, {set_->history_target(), kHistoryService}};
  }
};

TEST_F(ReflectionV1Test, ListsServicesOnBothServers) {
  for (const auto& [target, own_service] : Servers()) {
    const std::set<std::string> names = Listed(target);
    const std::set<std::string> expected = {own_service, kHealthService, kReflectionV1,
                                            kReflectionV1Alpha};
    EXPECT_EQ(names, expected) << target << ": " << absl::StrJoin(names, ", ");
  }
}

TEST_F(ReflectionV1Test, HealthPortsListHealthAndReflectionOnly) {
  for (const std::string& target : {set_->booking_health_target(), set_->history_health_target()}) {
    const std::set<std::string> names = Listed(target);
    const std::set<std::string> expected = {kHealthService, kReflectionV1, kReflectionV1Alpha};
    EXPECT_EQ(names, expected) << target << ": " << absl::StrJoin(names, ", ");
    absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> pool = PoolFor<V1>(target, kHealthService);
    ASSERT_TRUE(pool.ok()) << target << ": " << pool.status();
    absl::StatusOr<std::string> health =
        CallJson(target, **pool, "grpc.health.v1.Health/Check", R"({"service":"liveness"})");
    ASSERT_TRUE(health.ok()) << target << ": " << health.status();
    EXPECT_EQ(*health, R"({"status":"SERVING"})") << target;
  }
}

TEST_F(ReflectionV1Test, CreateAndGetBookingAndReadItsHistoryFromJson) {
  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> booking_pool =
      PoolFor<V1>(set_->booking_target(), kBookingService);
  ASSERT_TRUE(booking_pool.ok()) << booking_pool.status();
  absl::StatusOr<std::string> created =
      CallJson(set_->booking_target(), **booking_pool, "booking.v1.BookingService/CreateBooking",
               R"({"customerId":"c-v1","paymentSettled":true})", ServiceSet::kToken);
  ASSERT_TRUE(created.ok()) << created.status() << "\n" << set_->Logs();
  const std::string id = StringField(ParseJson(*created), "id");
  ASSERT_FALSE(id.empty()) << *created;

  absl::StatusOr<std::string> got =
      CallJson(set_->booking_target(), **booking_pool, "booking.v1.BookingService/GetBooking",
               absl::StrCat(R"({"bookingId":")", id, R"("})"), ServiceSet::kToken);
  ASSERT_TRUE(got.ok()) << got.status();
  const pb::Struct booking = ParseJson(*got);
  EXPECT_EQ(StringField(booking, "id"), id) << *got;
  EXPECT_EQ(StringField(booking, "customerId"), "c-v1") << *got;
  EXPECT_EQ(StringField(booking, "status"), "CONFIRMED") << *got;

  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> history_pool =
      PoolFor<V1>(set_->history_target(), kHistoryService);
  ASSERT_TRUE(history_pool.ok()) << history_pool.status();
  // The relay delivers asynchronously: poll until the entry is there.
  std::string last;
  const absl::Status found = WaitFor(
      [&]() -> absl::Status {
        absl::StatusOr<std::string> history = CallJson(
            set_->history_target(), **history_pool, "history.v1.HistoryService/GetBookingHistory",
            absl::StrCat(R"({"bookingId":")", id, R"("})"), ServiceSet::kToken);
        if (!history.ok()) return history.status();
        last = *history;
        const pb::Struct response = ParseJson(last);
        auto entries = response.fields().find("entries");
        const bool some =
            entries != response.fields().end() && entries->second.list_value().values_size() > 0;
        return some ? absl::OkStatus() : absl::NotFoundError(last);
      },
      absl::Seconds(30), "an entry in history", absl::Milliseconds(100));
  ASSERT_EQ(found, absl::OkStatus()) << set_->Logs();
  const pb::Struct response = ParseJson(last);
  ASSERT_EQ(response.fields().count("entries"), 1u) << "no history within 30s: " << last;
  const pb::ListValue& entries = response.fields().at("entries").list_value();
  ASSERT_EQ(entries.values_size(), 1) << last;
  const pb::Struct& entry = entries.values(0).struct_value();
  EXPECT_EQ(StringField(entry, "bookingId"), id) << last;
  EXPECT_EQ(StringField(entry, "toStatus"), "CONFIRMED") << last;
  EXPECT_EQ(StringField(entry, "changedBy"), ServiceSet::kPrincipal) << last;
}

TEST_F(ReflectionV1Test, UnknownNamesAreNotFoundInTheErrorResponse) {
  for (const auto& [target, own_service] : Servers()) {
    ReflectionClient<V1> client(target);
    V1::Request symbol;
    symbol.set_host("reflection-v1-test");
    symbol.set_file_containing_symbol("no.such.Symbol");
    absl::StatusOr<V1::Response> answer = client.Exchange(symbol);
    ASSERT_TRUE(answer.ok()) << target << ": " << answer.status();
    ASSERT_TRUE(answer->has_error_response()) << answer->ShortDebugString();
    EXPECT_EQ(answer->error_response().error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(answer->error_response().error_message().find("no.such.Symbol"), std::string::npos)
        << answer->error_response().error_message();
    EXPECT_EQ(answer->valid_host(), "reflection-v1-test");
    EXPECT_EQ(answer->original_request().file_containing_symbol(), "no.such.Symbol");

    // The stream goes on after an error.
    V1::Request file;
    file.set_file_by_filename("no/such/file.proto");
    answer = client.Exchange(file);
    ASSERT_TRUE(answer.ok()) << target << ": " << answer.status();
    EXPECT_EQ(answer->error_response().error_code(), grpc::StatusCode::NOT_FOUND);
    pb::DescriptorPool pool;
    EXPECT_TRUE(client.LoadSymbol(own_service, pool).ok()) << target;
  }
}

TEST_F(ReflectionV1Test, V1AlphaSendsTheSameDescriptors) {
  for (const auto& [target, own_service] : Servers()) {
    V1::Request request;
    request.set_file_containing_symbol(own_service);
    ReflectionClient<V1> client(target);
    absl::StatusOr<V1::Response> v1 = client.Exchange(request);
    ASSERT_TRUE(v1.ok()) << target << ": " << v1.status();
    absl::StatusOr<V1::Response> v1alpha = AskV1Alpha(target, request);
    ASSERT_TRUE(v1alpha.ok()) << target << ": " << v1alpha.status();
    ASSERT_TRUE(v1->has_file_descriptor_response()) << v1->ShortDebugString();
    EXPECT_GE(v1->file_descriptor_response().file_descriptor_proto_size(), 2) << target;
    EXPECT_EQ(v1->file_descriptor_response().SerializeAsString(),
              v1alpha->file_descriptor_response().SerializeAsString())
        << target;
  }
}

}  // namespace
}  // namespace booking::testing
