// What the libFuzzer harnesses share: a failed invariant aborts with its
// description (libFuzzer then keeps the input as a crash), an independent
// UTF-8 decoder to check IsValidUtf8 against, and the properties every
// metadata JSON the checks accept must have.
#ifndef TESTS_FUZZ_FUZZ_SUPPORT_H_
#define TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/rpc_error.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace booking::fuzz {

// Aborts, naming the invariant, when `ok` is false.
inline void Require(bool ok, absl::string_view invariant, absl::string_view detail = "") {
  if (ok) return;
  std::fprintf(stderr, "\nFUZZ INVARIANT FAILED: %.*s\n", static_cast<int>(invariant.size()),
               invariant.data());
  if (!detail.empty()) {
    std::fprintf(stderr, "  detail: %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

// protobuf logs every string field that is not UTF-8 while parsing; the
// harnesses feed it such bytes all the time.
inline void QuietProtobuf() {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
}

// Well-formed UTF-8 as the Unicode standard's table 3-7 lists it, written
// independently of IsValidUtf8: per lead byte, the range of the second byte.
inline bool ReferenceUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 <= 0x7F) {
      ++i;
      continue;
    }
    size_t trail = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      trail = 1;
    } else if (b0 == 0xE0) {
      trail = 2;
      lo = 0xA0;
    } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
      trail = 2;
    } else if (b0 == 0xED) {
      trail = 2;
      hi = 0x9F;
    } else if (b0 == 0xF0) {
      trail = 3;
      lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
      trail = 3;
    } else if (b0 == 0xF4) {
      trail = 3;
      hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i - 1 < trail) return false;
    for (size_t k = 1; k <= trail; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    i += trail + 1;
  }
  return true;
}

inline void CheckUtf8Agrees(absl::string_view s) {
  Require(IsValidUtf8(s) == ReferenceUtf8(s), "IsValidUtf8 agrees with the reference decoder");
}

// A refusal: INVALID_ARGUMENT, a message, and a google.rpc.BadRequest field
// violation naming what to fix.
inline void CheckRefusal(const absl::Status& status) {
  Require(status.code() == absl::StatusCode::kInvalidArgument, "a refusal is INVALID_ARGUMENT",
          status.ToString());
  Require(!status.message().empty(), "a refusal carries a message");
  const google::rpc::Status details = DetailsOf(status);
  bool violation = false;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad) && bad.field_violations_size() > 0) violation = true;
  }
  Require(violation, "a refusal carries a BadRequest field violation", status.ToString());
}

// Nesting as limits::kMaxMetadataDepth counts it: the top Struct is level 1,
// each nested Struct or list one more.
inline int Depth(const google::protobuf::Struct& s);
inline int Depth(const google::protobuf::Value& v) {
  if (v.has_struct_value()) return Depth(v.struct_value());
  if (!v.has_list_value()) return 0;
  int deepest = 0;
  for (const auto& item : v.list_value().values()) deepest = std::max(deepest, Depth(item));
  return 1 + deepest;
}
inline int Depth(const google::protobuf::Struct& s) {
  int deepest = 0;
  for (const auto& [key, value] : s.fields()) deepest = std::max(deepest, Depth(value));
  return 1 + deepest;
}

// Every key and string of an accepted Struct: UTF-8 without NUL; every number
// finite; every value of a kind.
inline void CheckAcceptedValues(const google::protobuf::Struct& s);
inline void CheckAcceptedValue(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kStringValue:
      Require(ReferenceUtf8(v.string_value()) && v.string_value().find('\0') == std::string::npos,
              "accepted metadata strings are UTF-8 without NUL");
      break;
    case google::protobuf::Value::kNumberValue:
      Require(std::isfinite(v.number_value()), "accepted metadata numbers are finite");
      break;
    case google::protobuf::Value::kStructValue:
      CheckAcceptedValues(v.struct_value());
      break;
    case google::protobuf::Value::kListValue:
      for (const auto& item : v.list_value().values()) CheckAcceptedValue(item);
      break;
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::kBoolValue:
      break;
    case google::protobuf::Value::KIND_NOT_SET:
      Require(false, "accepted metadata values all have a kind");
  }
}
inline void CheckAcceptedValues(const google::protobuf::Struct& s) {
  for (const auto& [key, value] : s.fields()) {
    Require(ReferenceUtf8(key) && key.find('\0') == std::string::npos,
            "accepted metadata keys are UTF-8 without NUL");
    CheckAcceptedValue(value);
  }
}

// A null's enum number is not kept in JSON: binary input may hold any
// number for it (proto3 enums are open), JSON reads back NULL_VALUE (0).
inline void NormalizeNulls(google::protobuf::Struct* s);
inline void NormalizeNulls(google::protobuf::Value* v) {
  if (v->has_null_value()) v->set_null_value(google::protobuf::NULL_VALUE);
  if (v->has_struct_value()) NormalizeNulls(v->mutable_struct_value());
  if (v->has_list_value()) {
    for (auto& item : *v->mutable_list_value()->mutable_values()) NormalizeNulls(&item);
  }
}
inline void NormalizeNulls(google::protobuf::Struct* s) {
  for (auto& [key, value] : *s->mutable_fields()) NormalizeNulls(&value);
}

// True when `back` (read from JSON) is `metadata` as JSON can carry it: no
// unknown fields, nulls as NULL_VALUE. `diff` says what differs.
inline bool ReadsBackAs(const google::protobuf::Struct& metadata,
                        const google::protobuf::Struct& back, std::string* diff) {
  google::protobuf::Struct expected = metadata;
  expected.DiscardUnknownFields();
  NormalizeNulls(&expected);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(diff);
  // (A list holding only unknown fields was once left out whole: the
  // crash-unknown-only-list* inputs of the corpus.)
  return differencer.Compare(expected, back);
}

// What MetadataToJson("metadata", metadata) must return: OK with JSON that is
// within the limits and reads back as `metadata`, or a proper refusal.
inline void CheckMetadataResult(const google::protobuf::Struct& metadata,
                                const absl::StatusOr<std::string>& json) {
  if (!json.ok()) {
    CheckRefusal(json.status());
    return;
  }
  if (metadata.fields_size() == 0) {
    Require(json->empty(), "empty metadata is empty JSON");
    return;
  }
  Require(json->size() <= limits::kMaxMetadataJsonBytes, "accepted metadata JSON is within limits");
  Require(Depth(metadata) <= limits::kMaxMetadataDepth,
          "accepted metadata nesting is within limits");
  CheckAcceptedValues(metadata);
  google::protobuf::Struct back;
  const auto parsed = google::protobuf::util::JsonStringToMessage(*json, &back);
  Require(parsed.ok(), "accepted metadata JSON parses back into a Struct", parsed.ToString());
  std::string diff;
  Require(ReadsBackAs(metadata, back, &diff), "accepted metadata JSON reads back unchanged",
          diff + "  json: " + *json);
}

}  // namespace booking::fuzz

#endif  // TESTS_FUZZ_FUZZ_SUPPORT_H_
