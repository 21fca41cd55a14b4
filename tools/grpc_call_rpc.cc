// grpc-call's calls: a method found among the compiled-in descriptors, its
// request from JSON sent as bytes through a generic stub (one code path for
// unary and server-streaming methods), each response printed as JSON the way
// grpcurl prints it; `list` by server reflection; grpcurl's error block.
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "booking/v1/booking.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "grpc/reflection/v1/reflection.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "history/v1/history.pb.h"
#include "tools/grpc_call.h"

namespace booking::grpc_call {
namespace {

namespace pb = google::protobuf;

// The files whose descriptors this binary knows: naming one type of each
// links its generated code (and so registers the file) from the static
// libraries.
void LinkDescriptors() {
  static const pb::Descriptor* const kLinked[] = {
      v1::Booking::descriptor(),
      history::v1::HistoryEntry::descriptor(),
      grpc::health::v1::HealthCheckRequest::descriptor(),
      grpc::reflection::v1::ServerReflectionRequest::descriptor(),
      grpc::reflection::v1alpha::ServerReflectionRequest::descriptor(),
      google::rpc::ErrorInfo::descriptor(),
  };
  (void)kLinked;
}

const pb::MethodDescriptor* FindMethod(std::string symbol) {
  LinkDescriptors();
  const std::string::size_type slash = symbol.rfind('/');
  if (slash != std::string::npos) symbol[slash] = '.';
  return pb::DescriptorPool::generated_pool()->FindMethodByName(symbol);
}

// grpcurl's names of the codes (Go's codes.Code).
const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "Unknown";
}

std::string Json(const pb::Message& message, bool indent = true) {
  pb::util::JsonPrintOptions options;
  options.add_whitespace = indent;
  std::string json;
  if (!pb::util::MessageToJsonString(message, &json, options).ok()) {
    return absl::StrCat("(", message.GetTypeName(), " that JSON cannot express)");
  }
  if (!json.empty() && json.back() == '\n') json.pop_back();
  if (!indent) return json;
  // protobuf indents by one space, grpcurl by two: every line's indentation
  // doubled (strings hold no newline: JSON escapes it).
  std::string twice;
  bool line_start = true;
  for (char c : json) {
    if (line_start && c == ' ') twice += ' ';
    line_start = c == '\n' || (line_start && c == ' ');
    twice += c;
  }
  return twice;
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

// Request metadata, response headers or trailers as grpcurl -v prints them
// (binary values base64).
void PrintMetadata(const char* title, const std::multimap<std::string, std::string>& metadata) {
  std::cout << "\n" << title << "\n";
  if (metadata.empty()) std::cout << "(empty)\n";
  for (const auto& [name, value] : metadata) {
    std::cout << name << ": " << (absl::EndsWith(name, "-bin") ? absl::Base64Escape(value) : value)
              << "\n";
  }
}

std::multimap<std::string, std::string> Copy(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  std::multimap<std::string, std::string> copy;
  for (const auto& [name, value] : metadata) {
    copy.emplace(std::string(name.data(), name.size()), std::string(value.data(), value.size()));
  }
  return copy;
}

// One call on a completion queue, each step awaited before the next. Not
// thread-safe: the one thread that made it drives it.
class GenericCall {
 public:
  GenericCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
              grpc::ClientContext& context)
      : stub_(channel), call_(stub_.PrepareCall(&context, path, &cq_)) {}

  ~GenericCall() {
    call_.reset();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  bool Start(const std::string& request) {
    call_->StartCall(this);
    if (!Await()) return false;
    grpc::Slice slice(request);
    grpc::ByteBuffer buffer(&slice, 1);
    call_->WriteLast(buffer, grpc::WriteOptions(), this);
    if (!Await()) return false;
    call_->ReadInitialMetadata(this);
    return Await();
  }
  bool Read(std::string& response) {
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, this);
    if (!Await()) return false;
    response = Bytes(buffer);
    return true;
  }
  grpc::Status Finish() {
    grpc::Status status;
    call_->Finish(&status, this);
    Await();
    return status;
  }

 private:
  bool Await() {
    void* tag;
    bool ok = false;
    return cq_.Next(&tag, &ok) && ok;
  }

  grpc::CompletionQueue cq_;
  grpc::GenericStub stub_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
};

void PrintDescriptor(const pb::MethodDescriptor& method) {
  std::cout << "\nResolved method descriptor:\nrpc " << method.name() << " ( "
            << (method.client_streaming() ? "stream " : "") << "."
            << method.input_type()->full_name() << " ) returns ( "
            << (method.server_streaming() ? "stream " : "") << "."
            << method.output_type()->full_name() << " );\n";
  std::cout.flush();
}

void SetUpContext(const Options& options, grpc::ClientContext& context) {
  for (const auto& [name, value] : options.headers) context.AddMetadata(name, value);
  if (options.max_time_seconds > 0) {
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::microseconds(static_cast<int64_t>(options.max_time_seconds * 1e6)));
  }
}

// "Error invoking method" as grpcurl says it; the call was not made.
int InvokeError(const Options& options, absl::string_view why) {
  std::cerr << "Error invoking method \"" << options.symbol << "\": " << why << "\n";
  return kExitFailed;
}

struct Received {
  int count = 0;
  bool stopped = false;     // -max-msgs reached
  bool unparsable = false;  // a response that is no `type`
};

// Prints each response as JSON until the stream ends or -max-msgs.
Received PrintResponses(const Options& options, const pb::Descriptor& type, GenericCall& call) {
  const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(&type);
  Received received;
  std::string bytes;
  while (!received.stopped && call.Read(bytes)) {
    std::unique_ptr<pb::Message> response(prototype->New());
    if (!response->ParseFromString(bytes)) {
      received.unparsable = true;
      break;
    }
    if (options.verbose) std::cout << "\nResponse contents:\n";
    std::cout << Json(*response) << "\n" << std::flush;
    ++received.count;
    received.stopped = options.max_msgs > 0 && received.count >= options.max_msgs;
  }
  return received;
}

}  // namespace

int PrintError(const grpc::Status& status) {
  std::cerr << "ERROR:\n  Code: " << CodeName(status.error_code())
            << "\n  Message: " << status.error_message() << "\n";
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details()) &&
      details.details_size() > 0) {
    LinkDescriptors();
    std::cerr << "  Details:\n";
    for (int i = 0; i < details.details_size(); ++i) {
      std::cerr << "  " << i + 1 << ")\t" << Json(details.details(i), false) << "\n";
    }
  }
  return kExitStatusOffset + static_cast<int>(status.error_code());
}

int Call(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  const pb::MethodDescriptor* method = FindMethod(options.symbol);
  if (method == nullptr) return InvokeError(options, "no such method among the compiled-in ones");
  if (method->client_streaming()) {
    return InvokeError(options, "client-streaming methods are not supported");
  }
  std::unique_ptr<pb::Message> request(
      pb::MessageFactory::generated_factory()->GetPrototype(method->input_type())->New());
  if (pb::util::Status s = pb::util::JsonStringToMessage(options.data, request.get()); !s.ok()) {
    return InvokeError(options,
                       absl::StrCat("error getting request data: ", s.message().as_string()));
  }
  if (options.verbose) {
    PrintDescriptor(*method);
    PrintMetadata("Request metadata to send:", {options.headers.begin(), options.headers.end()});
  }
  grpc::ClientContext context;
  SetUpContext(options, context);
  GenericCall call(channel, absl::StrCat("/", method->service()->full_name(), "/", method->name()),
                   context);
  Received received;
  if (call.Start(request->SerializeAsString())) {
    if (options.verbose) {
      PrintMetadata("Response headers received:", Copy(context.GetServerInitialMetadata()));
    }
    received = PrintResponses(options, *method->output_type(), call);
    if (received.stopped || received.unparsable) context.TryCancel();
  }
  const grpc::Status status = call.Finish();
  if (received.unparsable) {
    return InvokeError(options,
                       absl::StrCat("a response is no ", method->output_type()->full_name()));
  }
  if (options.verbose) {
    PrintMetadata("Response trailers received:", Copy(context.GetServerTrailingMetadata()));
    std::cout << "Sent 1 request and received " << received.count
              << (received.count == 1 ? " response\n" : " responses\n");
  }
  std::cout.flush();
  if (status.ok() || received.stopped) return 0;
  return PrintError(status);
}

int List(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (!options.symbol.empty()) {
    LinkDescriptors();
    const pb::ServiceDescriptor* service =
        pb::DescriptorPool::generated_pool()->FindServiceByName(options.symbol);
    if (service == nullptr) {
      std::cerr << "Failed to list methods for service \"" << options.symbol
                << "\": Service not found: " << options.symbol << "\n";
      return kExitFailed;
    }
    for (int i = 0; i < service->method_count(); ++i)
      std::cout << service->method(i)->full_name() << "\n";
    return 0;
  }
  namespace reflection = grpc::reflection::v1alpha;
  auto stub = reflection::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  SetUpContext(options, context);
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("*");
  reflection::ServerReflectionResponse response;
  const bool answered = stream->Write(request) && stream->WritesDone() && stream->Read(&response);
  const grpc::Status status = stream->Finish();
  if (!status.ok()) return PrintError(status);
  if (!answered || !response.has_list_services_response()) {
    return PrintError(
        grpc::Status(grpc::StatusCode::INTERNAL, "no list of services in the answer"));
  }
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.insert(s.name());
  for (const std::string& name : names) std::cout << name << "\n";
  return 0;
}

}  // namespace booking::grpc_call
