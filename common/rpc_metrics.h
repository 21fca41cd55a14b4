// Per-method RPC metrics, recorded by a server interceptor, under the names
// and labels of go-grpc-prometheus (what gRPC dashboards expect):
//
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{...,grpc_code} (histogram, call start to status)
//   grpc_server_msg_received_total, grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
//
// A call is counted once, when its status is sent (a stream at its end),
// with the code the caller gets: the interceptor must come after every
// interceptor that replaces a status (the authz interceptor does), since
// gRPC runs PRE_SEND_STATUS hooks in registration order.
#ifndef BOOKING_COMMON_RPC_METRICS_H_
#define BOOKING_COMMON_RPC_METRICS_H_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace booking {

// Thread safe.
class RpcMetrics {
 public:
  // The series of one method, resolved once.
  struct Method {
    prometheus::Labels labels;  // grpc_type, grpc_service, grpc_method
    prometheus::Counter* started = nullptr;
    prometheus::Counter* received = nullptr;
    prometheus::Counter* sent = nullptr;
  };

  explicit RpcMetrics(prometheus::Registry& registry);

  // Creates, at zero, the series of every method of `services` (full names)
  // with code OK: dashboards then read 0 rather than nothing.
  void Precreate(const std::vector<std::string>& services);

  // The series of the method at `path` ("/pkg.Service/Method"). A path that
  // names no method compiled into this binary is "unknown": callers choose
  // paths, and each would otherwise add series without bound.
  const Method& Resolve(const std::string& path);

  void Handled(const Method& method, grpc::StatusCode code, double seconds);

 private:
  const Method& ResolveLocked(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& sent_;
  const prometheus::Histogram::BucketBoundaries buckets_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Method>> methods_
      ABSL_GUARDED_BY(mu_);  // by path
};

// The code's name as go-grpc-prometheus writes it ("OK", "NotFound", ...).
const char* GrpcCodeName(grpc::StatusCode code);

// Thread safe (gRPC creates interceptors from many threads).
class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(std::shared_ptr<RpcMetrics> metrics)
      : metrics_(std::move(metrics)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<RpcMetrics> metrics_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_RPC_METRICS_H_
