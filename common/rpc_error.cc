#include "common/rpc_error.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

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

RpcError& RpcError::RetryAfter(absl::Duration delay) {
  const int64_t nanos = absl::ToInt64Nanoseconds(delay);
  retry_.mutable_retry_delay()->set_seconds(nanos / 1000000000);
  retry_.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return *this;
}

absl::Status RpcError::ToStatus() const {
  google::rpc::Status details;
  details.set_code(static_cast<int>(code_));
  details.set_message(message_);
  if (!info_.reason().empty()) details.add_details()->PackFrom(info_);
  if (bad_request_.field_violations_size() > 0) details.add_details()->PackFrom(bad_request_);
  if (precondition_.violations_size() > 0) details.add_details()->PackFrom(precondition_);
  if (retry_.has_retry_delay()) details.add_details()->PackFrom(retry_);
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

void EnsureErrorInfo(google::rpc::Status& details, absl::string_view domain) {
  std::string field;
  for (google::protobuf::Any& any : *details.mutable_details()) {
    google::rpc::ErrorInfo given;
    if (any.UnpackTo(&given)) {  // one built without a domain (a shared layer's) gets this one
      if (given.domain().empty()) {
        given.set_domain(std::string(domain));
        any.PackFrom(given);
      }
      return;
    }
    google::rpc::BadRequest bad;
    if (field.empty() && any.UnpackTo(&bad) && bad.field_violations_size() > 0) {
      field = bad.field_violations(0).field();
    }
  }
  google::rpc::ErrorInfo info;
  info.set_reason(absl::AsciiStrToUpper(absl::StrReplaceAll(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(details.code())), {{" ", "_"}})));
  info.set_domain(std::string(domain));
  if (!field.empty()) (*info.mutable_metadata())["field"] = field;
  details.add_details()->PackFrom(info);
}

std::string DomainOfMethod(absl::string_view method) {
  absl::ConsumePrefix(&method, "/");
  method = method.substr(0, method.find('/'));
  const size_t dot = method.rfind('.');
  return std::string(dot == absl::string_view::npos ? method : method.substr(0, dot));
}

bool HasDetails(const absl::Status& status) {
  return status.GetPayload(kDetailsPayloadUrl).has_value();
}

}  // namespace booking
