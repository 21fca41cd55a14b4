#include "common/authz_interceptor.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"
#include "common/rpc_status.h"

namespace booking {
namespace {

using grpc::experimental::InterceptionHookPoints;

// The decision travels to the handler as entries of the call's received
// metadata, which the handler reads through ServerContext. Entries a client
// sent under these names are removed first.
constexpr char kVerdictKey[] = "x-booking-authz-verdict";  // "allow" or the code
constexpr char kPrincipalKey[] = "x-booking-authz-principal";
constexpr char kMessageKey[] = "x-booking-authz-message";
constexpr char kDetailsKey[] = "x-booking-authz-details-bin";
constexpr char kDetailsPayloadUrl[] = "type.googleapis.com/google.rpc.Status";

class AuthzInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuthzInterceptor(grpc::experimental::ServerRpcInfo* info, const AccessControl& access)
      : info_(info), access_(access) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      Decide(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !decision_.refusal.ok()) {
      methods->ModifySendStatus(ToGrpcStatus(decision_.refusal));
    }
    methods->Proceed();
  }

 private:
  void Decide(std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    for (const char* key : {kVerdictKey, kPrincipalKey, kMessageKey, kDetailsKey}) {
      metadata.erase(key);
    }
    const char* method = info_->method() != nullptr ? info_->method() : "";
    decision_ = access_.Decide(*info_->server_context(), method);
    if (decision_.refusal.ok()) {
      verdict_ = "allow";
    } else {
      verdict_ = absl::StrCat(static_cast<int>(decision_.refusal.code()));
      message_ = std::string(decision_.refusal.message());
      if (auto payload = decision_.refusal.GetPayload(kDetailsPayloadUrl)) {
        details_ = std::string(*payload);
      }
      metadata.emplace(kMessageKey, message_);
      metadata.emplace(kDetailsKey, details_);
    }
    metadata.emplace(kVerdictKey, verdict_);
    metadata.emplace(kPrincipalKey, decision_.principal);
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const AccessControl& access_;
  AccessControl::Decision decision_;
  // Owned here: the metadata entries point into them for the call's life.
  std::string verdict_, message_, details_;
};

std::string Value(const grpc::ServerContextBase& context, const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

grpc::experimental::Interceptor* AuthzInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // gRPC takes ownership of the interceptor it asked for.
  return std::make_unique<AuthzInterceptor>(info, *access_).release();
}

absl::Status CallRefusal(const grpc::ServerContextBase& context) {
  const std::string verdict = Value(context, kVerdictKey);
  if (verdict == "allow") return absl::OkStatus();
  int code = 0;
  if (!absl::SimpleAtoi(verdict, &code) || code <= 0 || code > 16) {
    return absl::InternalError("the call was not authorized: this server has no authz interceptor");
  }
  absl::Status refusal(static_cast<absl::StatusCode>(code), Value(context, kMessageKey));
  const std::string details = Value(context, kDetailsKey);
  if (!details.empty()) refusal.SetPayload(kDetailsPayloadUrl, absl::Cord(details));
  return refusal;
}

std::string CallerPrincipal(const grpc::ServerContextBase& context) {
  std::string principal = Value(context, kPrincipalKey);
  return principal.empty() ? "anonymous" : principal;
}

}  // namespace booking
