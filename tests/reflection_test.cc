// Both servers are usable the way grpcurl uses them: with no .proto file and no
// generated code of booking.v1 or history.v1 in this binary. Server reflection
// (grpc.reflection.v1alpha) lists the services and serves every descriptor
// needed to call them, well-known types and grpc.health.v1.Health included;
// requests are then built from JSON on a DynamicMessageFactory, sent through a
// GenericStub as raw bytes, and the responses decoded back to JSON
// (tests/support/reflection_client.h, json_call.h).
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
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/json_call.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/reflection_client.h"
#include "tests/support/service_set.h"
#include "tests/support/stack_suite.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

namespace pb = google::protobuf;
namespace refl = grpc::reflection::v1alpha;

constexpr char kBookingService[] = "booking.v1.BookingService";
constexpr char kHistoryService[] = "history.v1.HistoryService";
constexpr char kHealthService[] = "grpc.health.v1.Health";
constexpr char kReflectionService[] = "grpc.reflection.v1alpha.ServerReflection";

// The protocol version this test speaks (reflection_v1_test: v1).
struct V1Alpha {
  using ServerReflection = refl::ServerReflection;
  using Request = refl::ServerReflectionRequest;
  using Response = refl::ServerReflectionResponse;
};

class ReflectionTest : public StackSuite {
 protected:
  static void SetUpTestSuite() { StartStack("reflection"); }

  // (target, the project's service) for both servers.
  static std::vector<std::pair<std::string, std::string>> Servers() {
    return {{set_->booking_target(), kBookingService}, {set_->history_target(), kHistoryService}};
  }
};

TEST_F(ReflectionTest, ListsTheServiceHealthAndReflection) {
  for (const auto& [target, own_service] : Servers()) {
    ReflectionClient<V1Alpha> client(target);
    absl::StatusOr<std::vector<std::string>> listed = client.ListServices();
    ASSERT_TRUE(listed.ok()) << target << ": " << listed.status();
    const std::set<std::string> names(listed->begin(), listed->end());
    EXPECT_EQ(names.count(own_service), 1u) << absl::StrJoin(names, ", ");
    EXPECT_EQ(names.count(kHealthService), 1u) << absl::StrJoin(names, ", ");
    EXPECT_EQ(names.count(kReflectionService), 1u) << absl::StrJoin(names, ", ");
  }
}

TEST_F(ReflectionTest, EveryListedServiceHasBuildableDescriptors) {
  for (const auto& [target, own_service] : Servers()) {
    ReflectionClient<V1Alpha> lister(target);
    absl::StatusOr<std::vector<std::string>> listed = lister.ListServices();
    ASSERT_TRUE(listed.ok()) << target << ": " << listed.status();
    ASSERT_GE(listed->size(), 3u);
    for (const std::string& name : *listed) {
      SCOPED_TRACE(absl::StrCat(target, " ", name));
      // A fresh stream and pool per service: everything it needs must come
      // from the server for this service alone.
      ReflectionClient<V1Alpha> client(target);
      pb::DescriptorPool pool;
      absl::Status s = client.LoadSymbol(name, pool);
      ASSERT_TRUE(s.ok()) << s;
      const pb::ServiceDescriptor* service = pool.FindServiceByName(name);
      ASSERT_NE(service, nullptr);
      EXPECT_GT(service->method_count(), 0);
      EXPECT_EQ(service->file()->pool(), &pool);
    }
  }
}

TEST_F(ReflectionTest, DescriptorsHaveTheExpectedShape) {
  // booking.v1 with its well-known imports, served by the server.
  ReflectionClient<V1Alpha> booking(set_->booking_target());
  pb::DescriptorPool booking_pool;
  absl::Status s = booking.LoadSymbol(kBookingService, booking_pool);
  ASSERT_TRUE(s.ok()) << s;
  const pb::ServiceDescriptor* service = booking_pool.FindServiceByName(kBookingService);
  ASSERT_NE(service, nullptr);
  for (const char* method :
       {"CreateBooking", "GetBooking", "ListBookings", "ChangeStatus", "CreateExtension"}) {
    EXPECT_NE(service->FindMethodByName(method), nullptr) << method;
  }
  const pb::MethodDescriptor* create = service->FindMethodByName("CreateBooking");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->input_type()->full_name(), "booking.v1.CreateBookingRequest");
  EXPECT_EQ(create->output_type()->full_name(), "booking.v1.Booking");
  EXPECT_NE(booking_pool.FindFileByName("google/protobuf/struct.proto"), nullptr);
  EXPECT_NE(booking_pool.FindFileByName("google/protobuf/timestamp.proto"), nullptr);
  EXPECT_EQ(booking.received().count("google/protobuf/struct.proto"), 1u);
  const pb::EnumDescriptor* status = booking_pool.FindEnumTypeByName("booking.v1.BookingStatus");
  ASSERT_NE(status, nullptr);
  EXPECT_NE(status->FindValueByName("CONFIRMED"), nullptr);

  // history.v1, including the streaming Ingest.
  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> history =
      PoolFor<V1Alpha>(set_->history_target(), kHistoryService);
  ASSERT_TRUE(history.ok()) << history.status();
  const pb::ServiceDescriptor* history_service = (*history)->FindServiceByName(kHistoryService);
  ASSERT_NE(history_service, nullptr);
  const pb::MethodDescriptor* ingest = history_service->FindMethodByName("Ingest");
  ASSERT_NE(ingest, nullptr);
  EXPECT_TRUE(ingest->client_streaming());
  EXPECT_TRUE(ingest->server_streaming());
  EXPECT_NE(history_service->FindMethodByName("GetBookingHistory"), nullptr);

  // The health service's descriptor, on both servers.
  for (const auto& [target, own_service] : Servers()) {
    absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> health =
        PoolFor<V1Alpha>(target, kHealthService);
    ASSERT_TRUE(health.ok()) << target << ": " << health.status();
    const pb::ServiceDescriptor* health_service = (*health)->FindServiceByName(kHealthService);
    ASSERT_NE(health_service, nullptr) << target;
    EXPECT_NE(health_service->FindMethodByName("Check"), nullptr) << target;
    EXPECT_NE(health_service->FindMethodByName("Watch"), nullptr) << target;
  }
}

TEST_F(ReflectionTest, CreateBookingAndReadHistoryFromJson) {
  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> booking_pool =
      PoolFor<V1Alpha>(set_->booking_target(), kBookingService);
  ASSERT_TRUE(booking_pool.ok()) << booking_pool.status();
  absl::StatusOr<std::string> created =
      CallJson(set_->booking_target(), **booking_pool, "booking.v1.BookingService/CreateBooking",
               R"({"customerId":"c-1","paymentSettled":true})", ServiceSet::kToken);
  ASSERT_TRUE(created.ok()) << created.status() << "\n" << set_->Logs();
  const pb::Struct booking = ParseJson(*created);
  EXPECT_EQ(StringField(booking, "status"), "CONFIRMED") << *created;
  EXPECT_EQ(StringField(booking, "customerId"), "c-1") << *created;
  const std::string id = StringField(booking, "id");
  ASSERT_FALSE(id.empty()) << *created;

  // Without the token the same call is refused: the metadata did matter.
  absl::StatusOr<std::string> anonymous =
      CallJson(set_->booking_target(), **booking_pool, "booking.v1.BookingService/CreateBooking",
               R"({"customerId":"c-1","paymentSettled":true})");
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnauthenticated) << anonymous.status();

  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> history_pool =
      PoolFor<V1Alpha>(set_->history_target(), kHistoryService);
  ASSERT_TRUE(history_pool.ok()) << history_pool.status();
  const std::string request = absl::StrCat(R"({"bookingId":")", id, R"("})");
  std::string last;
  const absl::Status found = WaitFor(
      [&]() -> absl::Status {
        absl::StatusOr<std::string> history =
            CallJson(set_->history_target(), **history_pool,
                     "history.v1.HistoryService/GetBookingHistory", request);
        if (!history.ok()) return history.status();
        last = *history;
        const pb::Struct response = ParseJson(last);
        auto entries = response.fields().find("entries");
        const bool some =
            entries != response.fields().end() && entries->second.list_value().values_size() > 0;
        return some ? absl::OkStatus() : absl::NotFoundError(last);
      },
      absl::Seconds(20), "an entry in history", absl::Milliseconds(200));
  ASSERT_EQ(found, absl::OkStatus()) << set_->Logs();
  const pb::Struct response = ParseJson(last);
  const pb::ListValue& list = response.fields().at("entries").list_value();
  ASSERT_EQ(list.values_size(), 1) << last;
  const pb::Struct& entry = list.values(0).struct_value();
  EXPECT_EQ(StringField(entry, "bookingId"), id) << last;
  EXPECT_EQ(StringField(entry, "toStatus"), "CONFIRMED") << last;
  EXPECT_EQ(StringField(entry, "changedBy"), ServiceSet::kPrincipal) << last;
}

TEST_F(ReflectionTest, HealthCheckFromJsonIsServing) {
  for (const auto& [target, own_service] : Servers()) {
    absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> pool =
        PoolFor<V1Alpha>(target, kHealthService);
    ASSERT_TRUE(pool.ok()) << target << ": " << pool.status();
    absl::StatusOr<std::string> health =
        CallJson(target, **pool, "grpc.health.v1.Health/Check", "{}");
    ASSERT_TRUE(health.ok()) << target << ": " << health.status();
    EXPECT_EQ(*health, R"({"status":"SERVING"})") << target;
    // Per service, as grpcurl -d '{"service":"..."}' and Kubernetes probes ask it.
    absl::StatusOr<std::string> own =
        CallJson(target, **pool, "grpc.health.v1.Health/Check",
                 absl::StrCat(R"({"service":")", own_service, R"("})"));
    ASSERT_TRUE(own.ok()) << target << ": " << own.status();
    EXPECT_EQ(*own, R"({"status":"SERVING"})") << target;
    absl::StatusOr<std::string> unknown =
        CallJson(target, **pool, "grpc.health.v1.Health/Check", R"({"service":"no.such.Service"})");
    EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();
  }
}

TEST_F(ReflectionTest, BadJsonValueIsAClientSideParseError) {
  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> pool =
      PoolFor<V1Alpha>(set_->booking_target(), kBookingService);
  ASSERT_TRUE(pool.ok()) << pool.status();
  const pb::Descriptor* type = (*pool)->FindMessageTypeByName("booking.v1.ChangeStatusRequest");
  ASSERT_NE(type, nullptr);
  pb::DynamicMessageFactory factory(pool->get());
  std::unique_ptr<pb::Message> good(factory.GetPrototype(type)->New());
  EXPECT_TRUE(
      pb::util::JsonStringToMessage(R"({"bookingId":"b-1","targetStatus":"PICKED_UP"})", good.get())
          .ok());
  std::unique_ptr<pb::Message> bad(factory.GetPrototype(type)->New());
  const pb::util::Status parsed = pb::util::JsonStringToMessage(
      R"({"bookingId":"b-1","targetStatus":"NOT_A_STATUS"})", bad.get());
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.ToString().find("NOT_A_STATUS"), std::string::npos) << parsed.ToString();

  // Through the whole call path: refused before anything is sent.
  absl::StatusOr<std::string> call =
      CallJson(set_->booking_target(), **pool, "booking.v1.BookingService/ChangeStatus",
               R"({"bookingId":"b-1","targetStatus":"NOT_A_STATUS"})", ServiceSet::kToken);
  EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument) << call.status();
  EXPECT_EQ(call.status().message().rfind("request JSON: ", 0), 0u) << call.status();
}

}  // namespace
}  // namespace booking::testing
