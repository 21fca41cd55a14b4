// Both servers are usable the way grpcurl uses them: with no .proto file and no
// generated code of booking.v1 or history.v1 in this binary. Server reflection
// (grpc.reflection.v1alpha) lists the services and serves every descriptor
// needed to call them, well-known types and grpc.health.v1.Health included;
// requests are then built from JSON on a DynamicMessageFactory, sent through a
// GenericStub as raw bytes, and the responses decoded back to JSON.
//
// The descriptor pools built here have no underlay: every file in them came
// from a server, none from this binary's generated pool.
#include <chrono>
#include <future>
#include <map>
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
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

namespace pb = google::protobuf;
namespace refl = grpc::reflection::v1alpha;

constexpr char kBookingService[] = "booking.v1.BookingService";
constexpr char kHistoryService[] = "history.v1.HistoryService";
constexpr char kHealthService[] = "grpc.health.v1.Health";
constexpr char kReflectionService[] = "grpc.reflection.v1alpha.ServerReflection";

absl::Status FromProtobuf(const pb::util::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(status.ToString());
}

class CollectErrors : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const pb::Message* /*descriptor*/, ErrorLocation /*location*/,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(filename, ": ", element_name, ": ", message));
  }
  std::string Text() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

// A reflection client as grpcurl has it: one ServerReflectionInfo stream,
// one request and one response at a time.
class ReflectionClient {
 public:
  explicit ReflectionClient(const std::string& target)
      : stub_(refl::ServerReflection::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = stub_->ServerReflectionInfo(&context_);
  }

  ~ReflectionClient() {
    if (finished_) return;
    stream_->WritesDone();
    (void)stream_->Finish();
  }

  absl::StatusOr<std::vector<std::string>> ListServices() {
    refl::ServerReflectionRequest request;
    request.set_list_services("*");
    absl::StatusOr<refl::ServerReflectionResponse> response = Ask(request);
    if (!response.ok()) return response.status();
    if (!response->has_list_services_response()) {
      return absl::InternalError(
          absl::StrCat("no list_services_response: ", response->ShortDebugString()));
    }
    std::vector<std::string> names;
    for (const refl::ServiceResponse& service : response->list_services_response().service()) {
      names.push_back(service.name());
    }
    return names;
  }

  // Loads the file declaring `symbol`, and everything it imports, into `pool`
  // (file_containing_symbol, then file_by_filename for whatever is missing).
  absl::Status LoadSymbol(const std::string& symbol, pb::DescriptorPool& pool) {
    refl::ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    absl::StatusOr<std::string> file = Fetch(request);
    if (!file.ok()) return file.status();
    return Build(*file, pool);
  }

  // Names of the files the server sent on this stream.
  std::set<std::string> received() const {
    std::set<std::string> names;
    for (const auto& [name, proto] : files_) names.insert(name);
    return names;
  }

 private:
  absl::StatusOr<refl::ServerReflectionResponse> Ask(const refl::ServerReflectionRequest& request) {
    refl::ServerReflectionResponse response;
    if (finished_) return absl::FailedPreconditionError("reflection stream already broke");
    if (!stream_->Write(request) || !stream_->Read(&response)) {
      finished_ = true;
      grpc::Status status = stream_->Finish();
      return absl::UnavailableError(absl::StrCat("reflection stream broke: ", status.error_code(),
                                                 " ", status.error_message()));
    }
    if (response.has_error_response()) {
      return absl::NotFoundError(absl::StrCat(request.ShortDebugString(), ": ",
                                              response.error_response().error_code(), " ",
                                              response.error_response().error_message()));
    }
    return response;
  }

  // Sends a file request, keeps every file of the answer; returns the name of
  // the first one (the one asked for, by the protocol).
  absl::StatusOr<std::string> Fetch(const refl::ServerReflectionRequest& request) {
    absl::StatusOr<refl::ServerReflectionResponse> response = Ask(request);
    if (!response.ok()) return response.status();
    if (!response->has_file_descriptor_response() ||
        response->file_descriptor_response().file_descriptor_proto_size() == 0) {
      return absl::InternalError(
          absl::StrCat("no file descriptors for ", request.ShortDebugString()));
    }
    std::string first;
    for (const std::string& bytes : response->file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::InternalError("unparsable FileDescriptorProto");
      }
      if (first.empty()) first = file.name();
      files_.emplace(file.name(), std::move(file));
    }
    return first;
  }

  absl::Status Build(const std::string& name, pb::DescriptorPool& pool) {
    if (pool.FindFileByName(name) != nullptr) return absl::OkStatus();
    if (files_.count(name) == 0) {
      refl::ServerReflectionRequest request;
      request.set_file_by_filename(name);
      absl::StatusOr<std::string> fetched = Fetch(request);
      if (!fetched.ok()) return fetched.status();
      if (files_.count(name) == 0) {
        return absl::InternalError(absl::StrCat("asked for ", name, ", got ", *fetched));
      }
    }
    const pb::FileDescriptorProto proto = files_.at(name);
    for (const std::string& dependency : proto.dependency()) {
      if (absl::Status s = Build(dependency, pool); !s.ok()) return s;
    }
    CollectErrors errors;
    if (pool.BuildFileCollectingErrors(proto, &errors) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot build ", name, ": ", errors.Text()));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<refl::ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<refl::ServerReflectionRequest, refl::ServerReflectionResponse>>
      stream_;
  std::map<std::string, pb::FileDescriptorProto> files_;
  bool finished_ = false;
};

// A pool holding `service` and its dependencies, all from the server at
// `target`.
absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> PoolFor(const std::string& target,
                                                            const std::string& service) {
  auto pool = std::make_unique<pb::DescriptorPool>();
  ReflectionClient client(target);
  if (absl::Status s = client.LoadSymbol(service, *pool); !s.ok()) return s;
  return pool;
}

// A unary call built from JSON through `pool`, the way grpcurl makes it:
// `method` is "package.Service/Method"; the response comes back as JSON.
absl::StatusOr<std::string> CallJson(const std::string& target, const pb::DescriptorPool& pool,
                                     const std::string& method, const std::string& request_json,
                                     const std::string& token = "") {
  const std::string::size_type slash = method.find('/');
  const pb::ServiceDescriptor* service = pool.FindServiceByName(method.substr(0, slash));
  if (service == nullptr) return absl::NotFoundError(absl::StrCat("no service for ", method));
  const pb::MethodDescriptor* rpc = service->FindMethodByName(method.substr(slash + 1));
  if (rpc == nullptr) return absl::NotFoundError(absl::StrCat("no method ", method));

  pb::DynamicMessageFactory factory(&pool);
  std::unique_ptr<pb::Message> request(factory.GetPrototype(rpc->input_type())->New());
  if (absl::Status s = FromProtobuf(pb::util::JsonStringToMessage(request_json, request.get()));
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request JSON: ", s.message()));
  }
  std::string request_bytes;
  if (!request->SerializeToString(&request_bytes)) return absl::InternalError("serialize");
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);

  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, absl::StrCat("/", rpc->service()->full_name(), "/", rpc->name()),
                 grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(method, ": ", status.error_message()));
  }

  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("response buffer");
  std::string response_bytes;
  for (const grpc::Slice& s : slices) {
    response_bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  std::unique_ptr<pb::Message> response(factory.GetPrototype(rpc->output_type())->New());
  if (!response->ParseFromString(response_bytes)) {
    return absl::InternalError(absl::StrCat("unparsable ", rpc->output_type()->full_name()));
  }
  std::string json;
  if (absl::Status s = FromProtobuf(pb::util::MessageToJsonString(*response, &json)); !s.ok()) {
    return s;
  }
  return json;
}

// JSON text as a google.protobuf.Struct, for looking into responses.
pb::Struct ParseJson(const std::string& json) {
  pb::Struct parsed;
  const absl::Status s = FromProtobuf(pb::util::JsonStringToMessage(json, &parsed));
  EXPECT_TRUE(s.ok()) << s << ": " << json;
  return parsed;
}

std::string StringField(const pb::Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? "" : it->second.string_value();
}

class ReflectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<PgCluster>> pg = PgCluster::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    absl::StatusOr<std::unique_ptr<ServiceSet>> services =
        ServiceSet::CreateAndStart(*pg_, "reflection");
    ASSERT_TRUE(services.ok()) << services.status();
    services_ = *std::move(services);
    ready_ = true;
  }

  static void TearDownTestSuite() {
    services_.reset();
    pg_.reset();
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "the services did not start"; }

  // (target, the project's service) for both servers.
  static std::vector<std::pair<std::string, std::string>> Servers() {
    return {{services_->booking_target(), kBookingService},
            {services_->history_target(), kHistoryService}};
  }

  static std::unique_ptr<PgCluster> pg_;
  static std::unique_ptr<ServiceSet> services_;
  static bool ready_;
};

std::unique_ptr<PgCluster> ReflectionTest::pg_;
std::unique_ptr<ServiceSet> ReflectionTest::services_;
bool ReflectionTest::ready_ = false;

TEST_F(ReflectionTest, ListsTheServiceHealthAndReflection) {
  for (const auto& [target, own_service] : Servers()) {
    ReflectionClient client(target);
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
    ReflectionClient lister(target);
    absl::StatusOr<std::vector<std::string>> listed = lister.ListServices();
    ASSERT_TRUE(listed.ok()) << target << ": " << listed.status();
    ASSERT_GE(listed->size(), 3u);
    for (const std::string& name : *listed) {
      SCOPED_TRACE(absl::StrCat(target, " ", name));
      // A fresh stream and pool per service: everything it needs must come
      // from the server for this service alone.
      ReflectionClient client(target);
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
  ReflectionClient booking(services_->booking_target());
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
      PoolFor(services_->history_target(), kHistoryService);
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
    absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> health = PoolFor(target, kHealthService);
    ASSERT_TRUE(health.ok()) << target << ": " << health.status();
    const pb::ServiceDescriptor* health_service = (*health)->FindServiceByName(kHealthService);
    ASSERT_NE(health_service, nullptr) << target;
    EXPECT_NE(health_service->FindMethodByName("Check"), nullptr) << target;
    EXPECT_NE(health_service->FindMethodByName("Watch"), nullptr) << target;
  }
}

TEST_F(ReflectionTest, CreateBookingAndReadHistoryFromJson) {
  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> booking_pool =
      PoolFor(services_->booking_target(), kBookingService);
  ASSERT_TRUE(booking_pool.ok()) << booking_pool.status();
  absl::StatusOr<std::string> created = CallJson(
      services_->booking_target(), **booking_pool, "booking.v1.BookingService/CreateBooking",
      R"({"customerId":"c-1","paymentSettled":true})", ServiceSet::kToken);
  ASSERT_TRUE(created.ok()) << created.status() << "\n" << services_->Logs();
  const pb::Struct booking = ParseJson(*created);
  EXPECT_EQ(StringField(booking, "status"), "CONFIRMED") << *created;
  EXPECT_EQ(StringField(booking, "customerId"), "c-1") << *created;
  const std::string id = StringField(booking, "id");
  ASSERT_FALSE(id.empty()) << *created;

  // Without the token the same call is refused: the metadata did matter.
  absl::StatusOr<std::string> anonymous = CallJson(services_->booking_target(), **booking_pool,
                                                   "booking.v1.BookingService/CreateBooking",
                                                   R"({"customerId":"c-1","paymentSettled":true})");
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnauthenticated) << anonymous.status();

  absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> history_pool =
      PoolFor(services_->history_target(), kHistoryService);
  ASSERT_TRUE(history_pool.ok()) << history_pool.status();
  const std::string request = absl::StrCat(R"({"bookingId":")", id, R"("})");
  std::string last;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool found = false;
  while (!found && absl::Now() < deadline) {
    absl::StatusOr<std::string> history =
        CallJson(services_->history_target(), **history_pool,
                 "history.v1.HistoryService/GetBookingHistory", request);
    ASSERT_TRUE(history.ok()) << history.status();
    last = *history;
    const pb::Struct response = ParseJson(*history);
    auto entries = response.fields().find("entries");
    if (entries != response.fields().end() && entries->second.list_value().values_size() > 0) {
      const pb::ListValue& list = entries->second.list_value();
      ASSERT_EQ(list.values_size(), 1) << last;
      const pb::Struct& entry = list.values(0).struct_value();
      EXPECT_EQ(StringField(entry, "bookingId"), id) << last;
      EXPECT_EQ(StringField(entry, "toStatus"), "CONFIRMED") << last;
      EXPECT_EQ(StringField(entry, "changedBy"), ServiceSet::kPrincipal) << last;
      found = true;
    } else {
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  EXPECT_TRUE(found) << "no history within 20s; last answer: " << last << "\n" << services_->Logs();
}

TEST_F(ReflectionTest, HealthCheckFromJsonIsServing) {
  for (const auto& [target, own_service] : Servers()) {
    absl::StatusOr<std::unique_ptr<pb::DescriptorPool>> pool = PoolFor(target, kHealthService);
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
      PoolFor(services_->booking_target(), kBookingService);
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
      CallJson(services_->booking_target(), **pool, "booking.v1.BookingService/ChangeStatus",
               R"({"bookingId":"b-1","targetStatus":"NOT_A_STATUS"})", ServiceSet::kToken);
  EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument) << call.status();
  EXPECT_EQ(call.status().message().rfind("request JSON: ", 0), 0u) << call.status();
}

}  // namespace
}  // namespace booking::testing
