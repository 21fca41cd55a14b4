#include "common/parse_error_interceptor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"
#include "common/rpc_status.h"

namespace booking {
namespace {

using grpc::experimental::InterceptionHookPoints;

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(std::string method) : method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // A message that failed to parse reaches this hook as a null message.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsed_ = true;
    }
    // gRPC's sync API answers INTERNAL; its callback API (WatchHistory)
    // UNIMPLEMENTED with no message.
    const auto as_unparsed = [](const grpc::Status& s) {
      return s.error_code() == grpc::StatusCode::INTERNAL ||
             (s.error_code() == grpc::StatusCode::UNIMPLEMENTED && s.error_message().empty());
    };
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && unparsed_ &&
        as_unparsed(methods->GetSendStatus())) {
      const std::string message =
          absl::StrCat("the request is not a valid ", method_,
                       " message: it does not parse as protobuf, or a string field in it is not "
                       "valid UTF-8");
      methods->ModifySendStatus(
          ToGrpcStatus(RpcError(absl::StatusCode::kInvalidArgument, message)
                           .Info("UNPARSEABLE_REQUEST", DomainOfMethod(method_))));
    }
    // AIP-193: an ErrorInfo on every error, also on a status a handler
    // returned without ToCallerStatus. (Errors gRPC's core sends without
    // running the call, such as an oversized message, never pass here.)
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !methods->GetSendStatus().ok()) {
      methods->ModifySendStatus(WithErrorInfo(methods->GetSendStatus(), DomainOfMethod(method_)));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool unparsed_ = false;
};

}  // namespace

grpc::experimental::Interceptor* ParseErrorInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // gRPC takes ownership of the interceptor it asked for.
  return std::make_unique<ParseErrorInterceptor>(info->method() != nullptr ? info->method() : "")
      .release();
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
ServerInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<ParseErrorInterceptorFactory>());
  return out;
}

}  // namespace booking
