#include "tests/support/list_fuzz_gen.h"

#include <algorithm>
#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/support/ingest_client.h"

namespace booking::testing {
namespace {

// seconds, nanos of the story's times: the edges of the range, around 1970
// and in 2026.
std::pair<int64_t, int32_t> StoryTime(int booking) {
  switch (booking) {
    case 0:
      return {-62135596800, 0};  // 0001-01-01T00:00:00Z
    case 1:
      // 9999-12-31T23:59:59.999Z: the last time ingest stores as given (it
      // keeps milliseconds, rounding: .9995 and later would become year 10000).
      return {253402300799, 999000000};
    case 2:
      return {-1, 500000000};  // 1969-12-31T23:59:59.5Z
    case 3:
      return {0, 0};
    default:
      return {1793491200 + booking * 3600, booking * 1000};
  }
}

std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::vector<history::v1::StatusChangeEvent> FuzzStory() {
  std::vector<history::v1::StatusChangeEvent> out;
  const std::vector<std::string> by = {"api@x", "ops@x", "\xc3\xbcn\xc3\xaf@x", "\xf0\x9f\x9a\x80"};
  for (int b = 0; b < 20; ++b) {
    const std::string booking = absl::StrCat("fuzz-", b);
    const auto [seconds, nanos] = StoryTime(b);
    for (int s = 1; s <= 2; ++s) {
      auto e = StatusEvent(EventId(b * 2 + s), booking, s, s == 1 ? "" : "PENDING_PAYMENT",
                           s == 1 ? "PENDING_PAYMENT" : (b % 2 ? "CONFIRMED" : "CANCELLED"),
                           by[static_cast<size_t>(b + s) % by.size()]);
      e.mutable_change_time()->set_seconds(seconds);
      e.mutable_change_time()->set_nanos(nanos);
      out.push_back(e);
    }
  }
  return out;
}

std::string ListFuzzGen::RandomBytes(int max) {
  std::string out(static_cast<size_t>(Int(0, max)), '\0');
  for (char& c : out) c = static_cast<char>(Int(0, 255));
  return out;
}

std::string ListFuzzGen::Text() {
  static const std::vector<std::string> kTexts = {"",
                                                  "A",
                                                  "CANCELLED",
                                                  "CONFIRMED",
                                                  "PENDING_PAYMENT",
                                                  "api@x",
                                                  "ops@x",
                                                  "\xc3\xbcn\xc3\xaf@x",
                                                  "\xf0\x9f\x9a\x80",
                                                  "\xe6\x97\xa5\xe6\x9c\xac",
                                                  "\xe2\x80\xae"
                                                  "abc",
                                                  "e\xcc\x81",
                                                  "\xff",
                                                  "\xc3\x28",
                                                  "\xed\xa0\x80",
                                                  "\xc0\xaf",
                                                  std::string("a\0b", 3),
                                                  std::string(200, 'a'),
                                                  std::string(201, 'a'),
                                                  std::string(5000, 'x'),
                                                  "\"",
                                                  "\\",
                                                  "a\"b\\",
                                                  "' OR 1=1 --",
                                                  "%s%n",
                                                  "$1",
                                                  "9223372036854775807",
                                                  "-9223372036854775809",
                                                  "1e309",
                                                  "NaN",
                                                  "0x10",
                                                  "\t\n",
                                                  "AND",
                                                  "OR"};
  switch (Int(0, 3)) {
    case 0:
      return RandomBytes(40);
    case 1:
      return absl::StrCat(Pick(kTexts), Pick(kTexts));
    default:
      return Pick(kTexts);
  }
}

std::string ListFuzzGen::Time() {
  static const std::vector<std::string> kTimes = {"0001-01-01T00:00:00Z",
                                                  "9999-12-31T23:59:59.999999Z",
                                                  "0000-12-31T23:59:59.999999Z",
                                                  "10000-01-01T00:00:00Z",
                                                  "0000-01-01T00:00:00Z",
                                                  "-0001-01-01T00:00:00Z",
                                                  "0001-01-01T00:00:00+00:01",
                                                  "9999-12-31T23:59:59-00:01",
                                                  "292277026596-12-04T15:30:08Z",
                                                  "-292277022657-01-27T08:29:52Z",
                                                  "99999999999999999999-01-01T00:00:00Z",
                                                  "294277-01-01T00:00:00Z",
                                                  "-4714-11-24T00:00:00Z",
                                                  "1970-01-01T00:00:00Z",
                                                  "1969-12-31T23:59:59.9999999999Z",
                                                  "2026-11-01T00:00:00Z",
                                                  "2026-12-31T23:59:60Z",
                                                  "2026-13-01T00:00:00Z",
                                                  "2026-02-30T00:00:00Z",
                                                  "2026-11-01T24:00:00Z",
                                                  "2026-11-01T00:00:00+24:00",
                                                  "2026-11-01T00:00:00+99:99",
                                                  "2026-11-01t00:00:00z",
                                                  "2026-11-01T00:00:00",
                                                  "2026-11-01 00:00:00Z",
                                                  "2026-11-01",
                                                  "now",
                                                  "",
                                                  "T",
                                                  "Z"};
  if (Chance(0.5)) return Pick(kTimes);
  // Assembled from fields, each now and then out of its range.
  std::string zone = Pick(std::vector<std::string>{"Z", "+00:00", "-23:59", "+23:59", "+14:00"});
  std::string frac = Chance(0.5) ? "" : "." + std::string(static_cast<size_t>(Int(1, 12)), '9');
  const int year = Chance(0.8) ? Int(1, 9999) : Int(-99999, 99999);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d%s%s", year, Int(0, 13), Int(0, 32),
                         Int(0, 25), Int(0, 61), Int(0, 61), frac, zone);
}

std::string ListFuzzGen::Value() {
  std::string v = Chance(0.4) ? Time() : Text();
  if (Chance(0.85)) return Quoted(v);
  return v;  // bare: a word, or whatever the bytes make of the rest
}

std::string ListFuzzGen::Comparison() {
  static const std::vector<std::string> kFields = {"changed_by", "to_status", "from_status",
                                                   "create_time"};
  static const std::vector<std::string> kOddFields = {
      "booking_id", "CREATE_TIME", "create_time.seconds", "x", "", "sequence", "id"};
  static const std::vector<std::string> kOps = {"=", "<", "<=", ">", ">="};
  static const std::vector<std::string> kOddOps = {"!=", ":", "==", "=<", "<>", "~", "", "=>"};
  const std::string field = Chance(0.85) ? Pick(kFields) : Pick(kOddFields);
  const std::string op = Chance(0.9) ? Pick(kOps) : Pick(kOddOps);
  std::string value = field == "create_time" && Chance(0.8) ? Quoted(Time()) : Value();
  std::string out = absl::StrCat(field, Chance(0.5) ? " " : "", op, Chance(0.5) ? " " : "", value);
  if (Chance(0.05)) out = absl::StrCat("NOT ", out);
  if (Chance(0.05)) out = absl::StrCat("(", out, ")");
  return out;
}

std::string ListFuzzGen::CleanFilter() {
  static const std::vector<std::string> kNames = {
      "api@x",           "ops@x",     "\xc3\xbcn\xc3\xaf@x", "\xf0\x9f\x9a\x80",
      "PENDING_PAYMENT", "CONFIRMED", "CANCELLED",           "",
      "nobody"};
  static const std::vector<std::string> kTimes = {
      "0001-01-01T00:00:00Z",     "0001-01-01T00:00:00.000001Z", "1969-12-31T23:59:59.5Z",
      "1970-01-01T00:00:00Z",     "2026-11-01T00:00:00Z",        "2026-11-01T10:00:00+09:00",
      "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999999Z"};
  std::vector<std::string> parts;
  for (const char* field : {"changed_by", "to_status", "from_status"}) {
    if (Chance(0.25)) parts.push_back(absl::StrCat(field, " = ", Quoted(Pick(kNames))));
  }
  if (Chance(0.4)) {
    parts.push_back(absl::StrCat("create_time ", Chance(0.5) ? ">" : ">=", Chance(0.5) ? "" : " ",
                                 Quoted(Pick(kTimes))));
  }
  if (Chance(0.4)) {
    parts.push_back(
        absl::StrCat("create_time ", Chance(0.5) ? "<" : "<=", " ", Quoted(Pick(kTimes))));
  }
  std::shuffle(parts.begin(), parts.end(), rng_);
  return absl::StrJoin(parts, " AND ");
}

std::string ListFuzzGen::Filter() {
  if (Chance(0.03)) return RandomBytes(64);
  if (Chance(0.15)) return "";
  std::vector<std::string> parts;
  const int n = Int(1, 6);
  for (int i = 0; i < n; ++i) parts.push_back(Comparison());
  const std::string join =
      Chance(0.9) ? " AND " : Pick(std::vector<std::string>{" and ", " OR ", " && ", ", ", " "});
  std::string out = absl::StrJoin(parts, join);
  if (Chance(0.03)) {  // nesting
    const size_t depth = static_cast<size_t>(Int(1, 400));
    out = absl::StrCat(std::string(depth, '('), out, std::string(depth, ')'));
  }
  if (Chance(0.02)) {  // past the length limit
    while (out.size() <= 2100) out = absl::StrCat(out, " AND ", Comparison());
  }
  return out;
}

std::string ListFuzzGen::OrderBy() {
  static const std::vector<std::string> kOrders = {"", "create_time", "create_time asc",
                                                   "create_time desc", " create_time  desc "};
  static const std::vector<std::string> kOdd = {"create_time DESC", "sequence",
                                                "create_time desc, id", "\xff", "-create_time"};
  if (Chance(0.85)) return Pick(kOrders);
  return Chance(0.5) ? Pick(kOdd) : Text();
}

int32_t ListFuzzGen::PageSize() {
  static const std::vector<int32_t> kSizes = {0, 1, 2, 3, 7, 1000, 1001, -1, INT_MIN, INT_MAX};
  return Pick(kSizes);
}

history::v1::ListHistoryRequest ListFuzzGen::Request() {
  history::v1::ListHistoryRequest r;
  r.set_filter(Chance(0.5) ? CleanFilter() : Filter());
  r.set_order_by(OrderBy());
  // Small pages mostly, so that tokens are handed out.
  r.set_page_size(Chance(0.7) ? Int(1, 3) : PageSize());
  if (Chance(0.05)) r.set_page_token(HandMadeToken());
  return r;
}

std::string ListFuzzGen::HandMadeToken() {
  static const std::vector<int64_t> kMicros = {
      INT64_MIN,           INT64_MAX, -62135596800000001, 253402300800000000, -210866803200000001,
      9223372036854775000, 0,         1793491200000000};
  const std::string micros = absl::StrCat(Pick(kMicros));
  const std::string id = EventId(Int(1, 40));
  switch (Int(0, 7)) {
    case 0:
      return Text();
    case 1:
      return absl::WebSafeBase64Escape(RandomBytes(80));
    case 2:
      return absl::WebSafeBase64Escape(absl::StrCat("l1|", RandomBytes(8), "|", micros, "|", id));
    case 3:  // the new layout with a made-up 32-byte "signature"
      return absl::WebSafeBase64Escape(
          absl::StrCat("l2|0123456789abcdef|", micros, "|", id,
                       std::string(32, static_cast<char>(Int(0, 255)))));
    case 4:
      return std::string(static_cast<size_t>(Int(500, 700)), 'A');
    case 5:
      return absl::StrCat(Int(-1, 1000000));  // GetBookingHistory's tokens as they were
    case 6:
      return absl::WebSafeBase64Escape(absl::StrCat("g1|0123456789abcdef|", micros));
    default:
      return absl::Base64Escape(RandomBytes(60));
  }
}

std::string ListFuzzGen::Mutate(const std::string& token) {
  std::string out = token;
  if (out.empty()) return "A";
  const size_t at = static_cast<size_t>(Int(0, static_cast<int>(out.size()) - 1));
  switch (Int(0, 6)) {
    case 0:  // one character changed to another of the alphabet
      out[at] = Pick(std::vector<char>{'A', 'B', 'Q', 'g', 'z', '0', '9', '-', '_'});
      break;
    case 1:
      out.resize(at);
      break;
    case 2:
      out += Chance(0.5) ? "A" : RandomBytes(4);
      break;
    case 3:
      out.erase(at, 1);
      break;
    case 4: {  // one bit of the decoded bytes flipped, re-encoded
      std::string raw;
      if (absl::WebSafeBase64Unescape(token, &raw) && !raw.empty()) {
        raw[static_cast<size_t>(Int(0, static_cast<int>(raw.size()) - 1))] ^=
            static_cast<char>(1 << Int(0, 7));
        out = absl::WebSafeBase64Escape(raw);
      } else {
        out += "=";
      }
      break;
    }
    case 5:
      out += "==";
      break;
    default:
      out = absl::AsciiStrToUpper(out);
      break;
  }
  return out == token ? token + "A" : out;
}

}  // namespace booking::testing
