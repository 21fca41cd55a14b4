#include "common/rpc_error.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/error_details.h"

namespace booking {
namespace {
constexpr absl::string_view kDetailsPayloadUrl = "type.googleapis.com/google.rpc.Status";
}  // namespace

RpcError::RpcError(absl::StatusCode code, std::string message)
    : code_(code), message_(std::move(message)) {}

RpcError& RpcError::Info(std::string reason, std::string domain,
                         std::initializer_list<std::pair<std::string, std::string>> metadata) {
  info_.set_reason(std::move(reason));
  info_.set_domain(std::move(domain));
  for (const auto& [k, v] : metadata) (*info_.mutable_metadata())[k] = v;
  return *this;
}

RpcError& RpcError::FieldViolation(std::string field, std::string description) {
  auto* v = bad_request_.add_field_violations();
  v->set_field(std::move(field));
  v->set_description(std::move(description));
  return *this;
}

RpcError& RpcError::Precondition(std::string type, std::string subject, std::string description) {
  auto* v = precondition_.add_violations();
  v->set_type(std::move(type));
  v->set_subject(std::move(subject));
  v->set_description(std::move(description));
  return *this;
}

absl::Status RpcError::ToStatus() const {
  google::rpc::Status details;
  details.set_code(static_cast<int>(code_));
  details.set_message(message_);
  if (!info_.reason().empty()) details.add_details()->PackFrom(info_);
  if (bad_request_.field_violations_size() > 0) details.add_details()->PackFrom(bad_request_);
  if (precondition_.violations_size() > 0) details.add_details()->PackFrom(precondition_);
  absl::Status status(code_, message_);
  status.SetPayload(kDetailsPayloadUrl, absl::Cord(details.SerializeAsString()));
  return status;
}

absl::Status InvalidField(absl::string_view field, absl::string_view description) {
  return RpcError(absl::StatusCode::kInvalidArgument, absl::StrCat(field, ": ", description))
      .FieldViolation(std::string(field), std::string(description));
}

google::rpc::Status DetailsOf(const absl::Status& status) {
  google::rpc::Status details;
  if (auto payload = status.GetPayload(kDetailsPayloadUrl)) {
    if (details.ParseFromString(std::string(*payload))) return details;
  }
  details.set_code(static_cast<int>(status.code()));
  details.set_message(std::string(status.message()));
  return details;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  grpc::Status out;
  grpc::SetErrorDetails(DetailsOf(status), &out);
  return out;
}

}  // namespace booking
