#include "common/input_check.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/json_util.h"

namespace booking {
namespace {

// Walks a metadata value; the first problem found, or "".
std::string ProblemIn(const google::protobuf::Value& value, int depth);

std::string ProblemIn(const google::protobuf::Struct& object, int depth) {
  if (depth > limits::kMaxMetadataDepth) {
    return absl::StrCat("nested deeper than ", limits::kMaxMetadataDepth, " levels");
  }
  for (const auto& [key, value] : object.fields()) {
    if (key.find('\0') != std::string::npos) return "a key holds a NUL character";
    if (!IsValidUtf8(key)) return "a key is not valid UTF-8";
    if (std::string p = ProblemIn(value, depth); !p.empty()) return p;
  }
  return "";
}

std::string ProblemIn(const google::protobuf::Value& value, int depth) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      if (value.string_value().find('\0') != std::string::npos) {
        return "a string holds a NUL character";
      }
      if (!IsValidUtf8(value.string_value())) return "a string is not valid UTF-8";
      return "";
    case google::protobuf::Value::kNumberValue:
      return std::isfinite(value.number_value()) ? "" : "a number is not finite";
    case google::protobuf::Value::kStructValue:
      return ProblemIn(value.struct_value(), depth + 1);
    case google::protobuf::Value::kListValue:
      if (depth + 1 > limits::kMaxMetadataDepth) {
        return absl::StrCat("nested deeper than ", limits::kMaxMetadataDepth, " levels");
      }
      for (const google::protobuf::Value& item : value.list_value().values()) {
        if (std::string p = ProblemIn(item, depth + 1); !p.empty()) return p;
      }
      return "";
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::kBoolValue:
      return "";
    case google::protobuf::Value::KIND_NOT_SET:
      return "a value has no kind (null, number, string, bool, struct or list)";
  }
  return "";
}

}  // namespace

const char kTimeRangeText[] = "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z";

absl::Status CheckTimeMicros(absl::string_view field, int64_t micros) {
  if (micros >= kMinTimeMicros && micros <= kMaxTimeMicros) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("a time outside ", kTimeRangeText));
}

std::string PgTimestampText(int64_t micros) {
  const int64_t seconds = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  const absl::CivilSecond t =
      absl::ToCivilSecond(absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d", t.year(), t.month(), t.day(),
                         t.hour(), t.minute(), t.second(), micros - seconds * 1000000);
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

absl::Status CheckId(absl::string_view field, absl::string_view value, bool optional) {
  if (value.empty()) return optional ? absl::OkStatus() : InvalidField(field, "required");
  if (value.size() > limits::kMaxIdBytes) {
    return InvalidField(field, absl::StrCat("longer than ", limits::kMaxIdBytes, " bytes"));
  }
  for (char c : value) {
    if (c < 0x21 || c > 0x7E) {
      return InvalidField(field,
                          "may hold only visible ASCII characters (no spaces, control "
                          "characters, NUL or non-ASCII)");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return InvalidField(field, absl::StrCat("longer than ", max_bytes, " bytes"));
  }
  if (value.find('\0') != absl::string_view::npos) {
    return InvalidField(field, "holds a NUL character");
  }
  if (!IsValidUtf8(value)) return InvalidField(field, "is not valid UTF-8");
  return absl::OkStatus();
}

absl::Status CheckUuid(absl::string_view field, absl::string_view value) {
  bool ok = value.size() == 36;
  for (size_t i = 0; ok && i < value.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash ? value[i] == '-' : absl::ascii_isxdigit(static_cast<unsigned char>(value[i]));
  }
  return ok ? absl::OkStatus() : InvalidField(field, "is not a UUID");
}

absl::StatusOr<std::string> MetadataToJson(absl::string_view field,
                                           const google::protobuf::Struct& metadata) {
  if (metadata.fields_size() == 0) return std::string();
  if (std::string problem = ProblemIn(metadata, 1); !problem.empty()) {
    return InvalidField(field, problem);
  }
  // Bounded before encoding: the binary size is close to the JSON size.
  if (metadata.ByteSizeLong() > 4 * limits::kMaxMetadataJsonBytes) {
    return InvalidField(
        field, absl::StrCat("larger than ", limits::kMaxMetadataJsonBytes, " bytes as JSON"));
  }
  // Unknown fields are dropped first, as proto3 ignores them: protobuf's
  // JSON writer would otherwise leave out a list holding nothing else, key
  // and all (found by fuzzing).
  google::protobuf::Struct known = metadata;
  known.DiscardUnknownFields();
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(known, &json).ok()) {
    return InvalidField(field, "cannot be written as JSON");
  }
  if (json.size() > limits::kMaxMetadataJsonBytes) {
    return InvalidField(
        field, absl::StrCat("larger than ", limits::kMaxMetadataJsonBytes, " bytes as JSON"));
  }
  return json;
}

absl::StatusOr<int> PageSizeOf(int requested, int default_size) {
  if (requested < 0) {
    return InvalidField("page_size",
                        absl::StrCat("must not be negative (0 means ", default_size, "; at most ",
                                     limits::kMaxPageSize, " are sent)"));
  }
  if (requested == 0) return default_size;
  return std::min(requested, limits::kMaxPageSize);
}

}  // namespace booking
