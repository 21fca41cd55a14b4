#include "tests/support/json_call.h"

#include <chrono>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace booking::testing {
namespace {

namespace pb = google::protobuf;

absl::Status FromProtobuf(const pb::util::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(status.ToString());
}

// Sends `request` as `rpc` and returns the response's bytes.
absl::StatusOr<std::string> SendRaw(const std::string& target, const pb::MethodDescriptor& rpc,
                                    const std::string& request, const std::string& token) {
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, absl::StrCat("/", rpc.service()->full_name(), "/", rpc.name()),
                 grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(rpc.full_name(), ": ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("response buffer");
  std::string response;
  for (const grpc::Slice& s : slices) {
    response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return response;
}

}  // namespace

absl::StatusOr<std::string> CallJson(const std::string& target, const pb::DescriptorPool& pool,
                                     const std::string& method, const std::string& request_json,
                                     const std::string& token) {
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
  absl::StatusOr<std::string> response_bytes = SendRaw(target, *rpc, request_bytes, token);
  if (!response_bytes.ok()) return response_bytes.status();

  std::unique_ptr<pb::Message> response(factory.GetPrototype(rpc->output_type())->New());
  if (!response->ParseFromString(*response_bytes)) {
    return absl::InternalError(absl::StrCat("unparsable ", rpc->output_type()->full_name()));
  }
  std::string json;
  if (absl::Status s = FromProtobuf(pb::util::MessageToJsonString(*response, &json)); !s.ok()) {
    return s;
  }
  return json;
}

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

}  // namespace booking::testing
