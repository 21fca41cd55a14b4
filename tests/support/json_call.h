// A unary call built from JSON through descriptors a client got by server
// reflection, the way grpcurl makes it: the request parsed from JSON into a
// DynamicMessage, sent through a GenericStub as bytes, the response decoded
// back to JSON. No generated code of the service is needed.
#ifndef TESTS_SUPPORT_JSON_CALL_H_
#define TESTS_SUPPORT_JSON_CALL_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"

namespace booking::testing {

// `method` is "package.Service/Method", found in `pool`; `token` (if any) is
// sent as a bearer token. A request that is not valid JSON for the method's
// input is INVALID_ARGUMENT "request JSON: ..." and nothing is sent; a call
// that fails has the server's code.
absl::StatusOr<std::string> CallJson(const std::string& target,
                                     const google::protobuf::DescriptorPool& pool,
                                     const std::string& method, const std::string& request_json,
                                     const std::string& token = "");

// JSON text as a google.protobuf.Struct, for looking into responses (a
// gtest failure when it does not parse).
google::protobuf::Struct ParseJson(const std::string& json);

// The string value of `object`'s field `name`; empty when absent.
std::string StringField(const google::protobuf::Struct& object, const std::string& name);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_JSON_CALL_H_
