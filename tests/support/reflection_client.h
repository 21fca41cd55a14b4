// A server reflection client as grpcurl has it, for either protocol version:
// `Api` names one version's generated types, e.g.
//   struct V1 {
//     using ServerReflection = grpc::reflection::v1::ServerReflection;
//     using Request = grpc::reflection::v1::ServerReflectionRequest;
//     using Response = grpc::reflection::v1::ServerReflectionResponse;
//   };
// Header only, so that a test binary compiles the one version it speaks and
// nothing else. The descriptor pools it fills have no underlay: every file in
// them comes from the server, none from the binary's generated pool.
#ifndef TESTS_SUPPORT_REFLECTION_CLIENT_H_
#define TESTS_SUPPORT_REFLECTION_CLIENT_H_

#include <chrono>
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
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/grpcpp.h"

namespace booking::testing {

// Why a FileDescriptorProto did not build.
class CollectErrors : public google::protobuf::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const google::protobuf::Message* /*descriptor*/, ErrorLocation /*location*/,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(filename, ": ", element_name, ": ", message));
  }
  std::string Text() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

// One ServerReflectionInfo stream, one request and one response at a time.
template <typename Api>
class ReflectionClient {
 public:
  using Request = typename Api::Request;
  using Response = typename Api::Response;

  explicit ReflectionClient(const std::string& target)
      : stub_(Api::ServerReflection::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = stub_->ServerReflectionInfo(&context_);
  }

  ~ReflectionClient() {
    if (finished_) return;
    stream_->WritesDone();
    (void)stream_->Finish();
  }

  ReflectionClient(const ReflectionClient&) = delete;
  ReflectionClient& operator=(const ReflectionClient&) = delete;

  // The server's answer as it is, error_response included; an error only
  // when the stream broke.
  absl::StatusOr<Response> Exchange(const Request& request) {
    Response response;
    if (finished_) return absl::FailedPreconditionError("reflection stream already broke");
    if (!stream_->Write(request) || !stream_->Read(&response)) {
      finished_ = true;
      grpc::Status status = stream_->Finish();
      return absl::UnavailableError(absl::StrCat("reflection stream broke: ", status.error_code(),
                                                 " ", status.error_message()));
    }
    return response;
  }

  absl::StatusOr<std::vector<std::string>> ListServices() {
    Request request;
    request.set_list_services("*");
    absl::StatusOr<Response> response = Ask(request);
    if (!response.ok()) return response.status();
    if (!response->has_list_services_response()) {
      return absl::InternalError(
          absl::StrCat("no list_services_response: ", response->ShortDebugString()));
    }
    std::vector<std::string> names;
    for (const auto& service : response->list_services_response().service()) {
      names.push_back(service.name());
    }
    return names;
  }

  // Loads the file declaring `symbol`, and everything it imports, into `pool`
  // (file_containing_symbol, then file_by_filename for whatever is missing).
  absl::Status LoadSymbol(const std::string& symbol, google::protobuf::DescriptorPool& pool) {
    Request request;
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
  // Exchange, with an error_response as NOT_FOUND.
  absl::StatusOr<Response> Ask(const Request& request) {
    absl::StatusOr<Response> response = Exchange(request);
    if (response.ok() && response->has_error_response()) {
      return absl::NotFoundError(absl::StrCat(request.ShortDebugString(), ": ",
                                              response->error_response().error_code(), " ",
                                              response->error_response().error_message()));
    }
    return response;
  }

  // Sends a file request, keeps every file of the answer; returns the name of
  // the first one (the one asked for, by the protocol).
  absl::StatusOr<std::string> Fetch(const Request& request) {
    absl::StatusOr<Response> response = Ask(request);
    if (!response.ok()) return response.status();
    if (!response->has_file_descriptor_response() ||
        response->file_descriptor_response().file_descriptor_proto_size() == 0) {
      return absl::InternalError(
          absl::StrCat("no file descriptors for ", request.ShortDebugString()));
    }
    std::string first;
    for (const std::string& bytes : response->file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::InternalError("unparsable FileDescriptorProto");
      }
      if (first.empty()) first = file.name();
      files_.emplace(file.name(), std::move(file));
    }
    return first;
  }

  absl::Status Build(const std::string& name, google::protobuf::DescriptorPool& pool) {
    if (pool.FindFileByName(name) != nullptr) return absl::OkStatus();
    if (files_.count(name) == 0) {
      Request request;
      request.set_file_by_filename(name);
      absl::StatusOr<std::string> fetched = Fetch(request);
      if (!fetched.ok()) return fetched.status();
      if (files_.count(name) == 0) {
        return absl::InternalError(absl::StrCat("asked for ", name, ", got ", *fetched));
      }
    }
    const google::protobuf::FileDescriptorProto proto = files_.at(name);
    for (const std::string& dependency : proto.dependency()) {
      if (absl::Status s = Build(dependency, pool); !s.ok()) return s;
    }
    CollectErrors errors;
    if (pool.BuildFileCollectingErrors(proto, &errors) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot build ", name, ": ", errors.Text()));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<typename Api::ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  std::map<std::string, google::protobuf::FileDescriptorProto> files_;
  bool finished_ = false;
};

// A pool holding `service` and its dependencies, all from the server at
// `target`.
template <typename Api>
absl::StatusOr<std::unique_ptr<google::protobuf::DescriptorPool>> PoolFor(
    const std::string& target, const std::string& service) {
  auto pool = std::make_unique<google::protobuf::DescriptorPool>();
  ReflectionClient<Api> client(target);
  if (absl::Status s = client.LoadSymbol(service, *pool); !s.ok()) return s;
  return pool;
}

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_REFLECTION_CLIENT_H_
