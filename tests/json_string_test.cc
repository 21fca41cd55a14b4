// JsonString (common/json_string.h), the one JSON string writer, and the log
// lines built with it: what it writes reads back as the same text through
// protobuf's JSON parser, for fixed cases and for seeded random UTF-8 text.
#include "common/json_string.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

// The text a JSON string literal stands for, per protobuf's parser; empty
// optional when it is not a JSON string.
std::optional<std::string> Parsed(const std::string& literal) {
  google::protobuf::Value value;
  if (!google::protobuf::util::JsonStringToMessage(literal, &value).ok() ||
      value.kind_case() != google::protobuf::Value::kStringValue) {
    return std::nullopt;
  }
  return value.string_value();
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Text weighted toward what needs escaping: controls, quotes, backslashes,
// solidus, DEL, U+2028, multi-byte and astral characters.
std::string RandomText(std::mt19937_64& rng) {
  static constexpr char32_t kPicks[] = {0x00, 0x01, 0x08, 0x09, 0x0A,   0x0D,   0x1F,   0x20,   '"',
                                        '\\', '/',  0x7F, 0xE9, 0x2028, 0x2029, 0xFEFF, 0x1F600};
  std::string text;
  const int length = static_cast<int>(rng() % 24);
  for (int i = 0; i < length; ++i) {
    char32_t cp = kPicks[rng() % std::size(kPicks)];
    if (rng() % 3 == 0) {
      cp = static_cast<char32_t>(rng() % 0x110000);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';  // surrogates are not characters
    }
    AppendUtf8(text, cp);
  }
  return text;
}

TEST(JsonStringTest, EscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString(std::string("\x01\n\x1f", 3)), "\"\\u0001\\u000a\\u001f\"");
  EXPECT_EQ(JsonString(std::string(1, '\0')), "\"\\u0000\"");
  EXPECT_EQ(JsonString("caf\xC3\xA9 /"), "\"caf\xC3\xA9 /\"");  // as is
}

TEST(JsonStringTest, RandomTextReadsBackTheSame) {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = RandomText(rng);
    const std::string literal = JsonString(text);
    ASSERT_EQ(Parsed(literal), text) << "case " << i << ": " << literal;
  }
}

TEST(JsonStringTest, LogLineIsJsonEvenForBytesThatAreNotUtf8) {
  ::testing::internal::CaptureStderr();
  LogInfo("a \"quoted\"\nmessage", {{"bad", "\xff\xfe\"x"}, {"ok", "caf\xC3\xA9"}});
  const std::string line = ::testing::internal::GetCapturedStderr();
  google::protobuf::Struct fields;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &fields).ok()) << line;
  EXPECT_EQ(fields.fields().at("msg").string_value(), "a \"quoted\"\nmessage");
  EXPECT_EQ(fields.fields().at("bad").string_value(), "\\xff\\xfe\\\"x");
  EXPECT_EQ(fields.fields().at("ok").string_value(), "caf\xC3\xA9");
  EXPECT_EQ(fields.fields().at("level").string_value(), "info");
}

}  // namespace
}  // namespace booking
