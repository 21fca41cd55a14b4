// Client-side helpers for tests: authenticated contexts and google.rpc
// details of an error.
#ifndef TESTS_SUPPORT_GRPC_CLIENT_H_
#define TESTS_SUPPORT_GRPC_CLIENT_H_

#include <future>
#include <memory>
#include <set>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace booking::testing {

inline std::unique_ptr<grpc::ClientContext> AuthedContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

// The detail of type T attached to `status`, if any.
template <typename T>
bool FindDetail(const grpc::Status& status, T* out) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return false;
  for (const auto& any : details.details()) {
    if (any.Is<T>()) return any.UnpackTo(out);
  }
  return false;
}

// Subjects of the PreconditionFailure violations of `status`.
inline std::set<std::string> PreconditionSubjects(const grpc::Status& status) {
  google::rpc::PreconditionFailure failure;
  std::set<std::string> subjects;
  if (FindDetail(status, &failure)) {
    for (const auto& v : failure.violations()) subjects.insert(v.subject());
  }
  return subjects;
}

// A unary call of `method` with `bytes` as the request, as a client with
// other protobuf definitions (or none) sends it. `context` bounds it (as
// AuthedContext's deadline does).
inline grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel,
                            grpc::ClientContext* context, const std::string& method,
                            const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_GRPC_CLIENT_H_
