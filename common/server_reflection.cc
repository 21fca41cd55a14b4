#include "common/server_reflection.h"

#include <atomic>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"

namespace booking {
namespace {

namespace pb = google::protobuf;

// The two generated APIs: the same messages, field for field.
struct V1 {
  using Service = grpc::reflection::v1::ServerReflection::Service;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Service = grpc::reflection::v1alpha::ServerReflection::Service;
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};

// The server's service names. The list is the server's own and complete only
// once it has started (health is added then); set after that, read by calls.
struct ServiceList {
  std::atomic<const std::vector<std::string>*> names{nullptr};
};

grpc::Status NotFound(absl::string_view what, absl::string_view name) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat(what, " not found: ", name));
}

template <typename Api>
class ReflectionService final : public Api::Service {
 public:
  using Request = typename Api::Request;
  using Response = typename Api::Response;

  explicit ReflectionService(std::shared_ptr<const ServiceList> services)
      : services_(std::move(services)) {}

  // One answer per request, in order, until the client ends the stream.
  grpc::Status ServerReflectionInfo(grpc::ServerContext* /*context*/,
                                    grpc::ServerReaderWriter<Response, Request>* stream) override {
    Request request;
    while (stream->Read(&request)) {
      Response response;
      const grpc::Status status = Answer(request, response);
      if (!status.ok()) {
        response.mutable_error_response()->set_error_code(status.error_code());
        response.mutable_error_response()->set_error_message(status.error_message());
      }
      response.set_valid_host(request.host());
      *response.mutable_original_request() = request;
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Answer(const Request& request, Response& response) const {
    switch (request.message_request_case()) {
      case Request::kFileByFilename:
        return AddFile(pool_->FindFileByName(request.file_by_filename()), "file",
                       request.file_by_filename(), response);
      case Request::kFileContainingSymbol:
        return AddFile(pool_->FindFileContainingSymbol(request.file_containing_symbol()), "symbol",
                       request.file_containing_symbol(), response);
      case Request::kFileContainingExtension: {
        const auto& extension = request.file_containing_extension();
        const pb::Descriptor* type = pool_->FindMessageTypeByName(extension.containing_type());
        if (type == nullptr) return NotFound("type", extension.containing_type());
        const pb::FieldDescriptor* field =
            pool_->FindExtensionByNumber(type, extension.extension_number());
        return AddFile(field != nullptr ? field->file() : nullptr, "extension",
                       absl::StrCat(extension.containing_type(), " ", extension.extension_number()),
                       response);
      }
      case Request::kAllExtensionNumbersOfType:
        return ExtensionNumbers(request.all_extension_numbers_of_type(), response);
      case Request::kListServices:
        return ListServices(response);
      default:
        return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no request in the message");
    }
  }

  // `file` and every file it imports, directly or not, each once: what a
  // client needs to build the file's descriptors on its own.
  grpc::Status AddFile(const pb::FileDescriptor* file, absl::string_view what,
                       absl::string_view name, Response& response) const {
    if (file == nullptr) return NotFound(what, name);
    std::set<std::string> added;
    std::vector<const pb::FileDescriptor*> pending = {file};
    while (!pending.empty()) {
      const pb::FileDescriptor* next = pending.back();
      pending.pop_back();
      if (!added.insert(next->name()).second) continue;
      pb::FileDescriptorProto proto;
      next->CopyTo(&proto);
      proto.SerializeToString(
          response.mutable_file_descriptor_response()->add_file_descriptor_proto());
      // Reversed, so that files come in the order they are imported.
      for (int i = next->dependency_count() - 1; i >= 0; --i)
        pending.push_back(next->dependency(i));
    }
    return grpc::Status::OK;
  }

  grpc::Status ExtensionNumbers(const std::string& type_name, Response& response) const {
    const pb::Descriptor* type = pool_->FindMessageTypeByName(type_name);
    if (type == nullptr) return NotFound("type", type_name);
    std::vector<const pb::FieldDescriptor*> extensions;
    pool_->FindAllExtensions(type, &extensions);
    auto* numbers = response.mutable_all_extension_numbers_response();
    numbers->set_base_type_name(type_name);
    for (const pb::FieldDescriptor* extension : extensions) {
      numbers->add_extension_number(extension->number());
    }
    return grpc::Status::OK;
  }

  grpc::Status ListServices(Response& response) const {
    const std::vector<std::string>* names = services_->names.load();
    if (names == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server starting");
    for (const std::string& name : *names) {
      response.mutable_list_services_response()->add_service()->set_name(name);
    }
    return grpc::Status::OK;
  }

  // Everything compiled into this binary: the services served, their
  // messages and imports.
  const pb::DescriptorPool* const pool_ = pb::DescriptorPool::generated_pool();
  const std::shared_ptr<const ServiceList> services_;
};

// Registers both services on the server being built (they live as long as
// it), then hands them its service list once it has started.
class ReflectionPlugin final : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "booking_server_reflection"; }
  void InitServer(grpc::ServerInitializer* initializer) override {
    initializer->RegisterService(std::make_shared<ReflectionService<V1>>(services_));
    initializer->RegisterService(std::make_shared<ReflectionService<V1Alpha>>(services_));
  }
  void Finish(grpc::ServerInitializer* initializer) override {
    services_->names.store(initializer->GetServiceList());
  }
  void ChangeArguments(const std::string& /*name*/, void* /*value*/) override {}
  // Sync services: the server needs its sync pollers even when nothing else
  // it serves is sync (the health-only server).
  bool has_sync_methods() const override { return true; }

 private:
  const std::shared_ptr<ServiceList> services_ = std::make_shared<ServiceList>();
};

class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ReflectionPlugin>());
  }
};

}  // namespace

std::unique_ptr<grpc::ServerBuilderOption> ServerReflectionOption() {
  return std::make_unique<ReflectionOption>();
}

}  // namespace booking
