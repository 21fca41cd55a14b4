#include "common/rpc_metrics.h"

#include <chrono>

#include "google/protobuf/descriptor.h"

namespace booking {
namespace {

using grpc::experimental::InterceptionHookPoints;

// go-grpc-prometheus' buckets, plus 1 ms (most calls here take a few ms),
// 150 ms and 300 ms (the monitoring table's baseline and threshold) and
// minutes (a stream lasts as long as its connection).
prometheus::Histogram::BucketBoundaries Buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.3, 0.5, 1, 2.5, 5, 10, 60, 600};
}

const char* TypeName(const google::protobuf::MethodDescriptor& method) {
  if (method.client_streaming()) {
    return method.server_streaming() ? "bidi_stream" : "client_stream";
  }
  return method.server_streaming() ? "server_stream" : "unary";
}

prometheus::Labels WithCode(prometheus::Labels labels, grpc::StatusCode code) {
  labels.emplace("grpc_code", GrpcCodeName(code));
  return labels;
}

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(RpcMetrics& metrics, const RpcMetrics::Method& method)
      : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {
    method_.started->Increment();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // A receive hook with no message is the end of the client's stream.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      method_.received->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      method_.sent->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
      metrics_.Handled(method_, methods->GetSendStatus().error_code(), took.count());
    }
    methods->Proceed();
  }

 private:
  RpcMetrics& metrics_;
  const RpcMetrics::Method& method_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

const char* GrpcCodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const int index = static_cast<int>(code);
  return index >= 0 && index <= 16 ? kNames[index] : "Unknown";
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("RPCs started on the server")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("RPCs completed on the server, by the code the caller got")
                   .Register(registry)),
      handling_(prometheus::BuildHistogram()
                    .Name("grpc_server_handling_seconds")
                    .Help("Time from an RPC's start to its status (a stream's whole life)")
                    .Register(registry)),
      received_(prometheus::BuildCounter()
                    .Name("grpc_server_msg_received_total")
                    .Help("Messages received from clients")
                    .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name("grpc_server_msg_sent_total")
                .Help("Messages sent to clients")
                .Register(registry)),
      buckets_(Buckets()) {}

void RpcMetrics::Precreate(const std::vector<std::string>& services) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const Method& method = Resolve("/" + name + "/" + service->method(i)->name());
      handled_.Add(WithCode(method.labels, grpc::StatusCode::OK));
      handling_.Add(WithCode(method.labels, grpc::StatusCode::OK), buckets_);
    }
  }
}

const RpcMetrics::Method& RpcMetrics::Resolve(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = methods_.find(path);
  if (it != methods_.end()) return *it->second;
  return ResolveLocked(path);
}

const RpcMetrics::Method& RpcMetrics::ResolveLocked(const std::string& path) {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  const size_t slash = path.rfind('/');
  if (!path.empty() && path[0] == '/' && slash != std::string::npos && slash > 1) {
    descriptor = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
        path.substr(1, slash - 1) + "." + path.substr(slash + 1));
  }
  // Every unknown path shares one entry.
  const std::string key = descriptor != nullptr ? path : "";
  auto& slot = methods_[key];
  if (slot == nullptr) {
    slot = std::make_unique<Method>();
    slot->labels = {
        {"grpc_type", descriptor != nullptr ? TypeName(*descriptor) : "unknown"},
        {"grpc_service", descriptor != nullptr ? descriptor->service()->full_name() : "unknown"},
        {"grpc_method", descriptor != nullptr ? descriptor->name() : "unknown"}};
    slot->started = &started_.Add(slot->labels);
    slot->received = &received_.Add(slot->labels);
    slot->sent = &sent_.Add(slot->labels);
  }
  return *slot;
}

void RpcMetrics::Handled(const Method& method, grpc::StatusCode code, double seconds) {
  handled_.Add(WithCode(method.labels, code)).Increment();
  handling_.Add(WithCode(method.labels, code), buckets_).Observe(seconds);
}

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const char* path = info->method() != nullptr ? info->method() : "";
  // gRPC takes ownership of the interceptor it asked for.
  return std::make_unique<RpcMetricsInterceptor>(*metrics_, metrics_->Resolve(path)).release();
}

}  // namespace booking
