#include "common/trace_context.h"

#include <openssl/rand.h>

#include <array>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace booking {
namespace {

constexpr size_t kTraceIdHex = 32;
constexpr size_t kParentIdHex = 16;
// "00-" + trace id + "-" + parent id + "-" + flags.
constexpr size_t kVersion00Length = 3 + kTraceIdHex + 1 + kParentIdHex + 1 + 2;

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view s) { return s.find_first_not_of('0') == absl::string_view::npos; }

// `n` random bytes as hex; never all zero (the specification forbids it).
std::string RandomHex(size_t n) {
  std::array<unsigned char, 16> bytes{};
  std::string hex;
  do {
    if (RAND_bytes(bytes.data(), static_cast<int>(n)) != 1) {
      // The CSPRNG could not be seeded: a trace id need not be secret.
      absl::BitGen gen;
      for (size_t i = 0; i < n; ++i) bytes[i] = absl::Uniform<unsigned char>(gen);
    }
    hex = absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes.data()), n));
  } while (AllZero(hex));
  return hex;
}

}  // namespace

std::string TraceContext::ToTraceparent() const {
  return absl::StrCat("00-", trace_id, "-", parent_id, "-", flags);
}

std::optional<TraceContext> ParseTraceparent(absl::string_view value) {
  if (value.size() < kVersion00Length) return std::nullopt;
  const absl::string_view version = value.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  // Version 00 is exactly this long; a later version may append fields
  // after another '-'.
  if (version == "00" ? value.size() != kVersion00Length
                      : value.size() > kVersion00Length && value[kVersion00Length] != '-') {
    return std::nullopt;
  }
  if (value[2] != '-' || value[3 + kTraceIdHex] != '-' ||
      value[3 + kTraceIdHex + 1 + kParentIdHex] != '-') {
    return std::nullopt;
  }
  TraceContext trace{std::string(value.substr(3, kTraceIdHex)),
                     std::string(value.substr(3 + kTraceIdHex + 1, kParentIdHex)),
                     std::string(value.substr(kVersion00Length - 2, 2))};
  if (!IsLowerHex(trace.trace_id) || AllZero(trace.trace_id) || !IsLowerHex(trace.parent_id) ||
      AllZero(trace.parent_id) || !IsLowerHex(trace.flags)) {
    return std::nullopt;
  }
  return trace;
}

TraceContext ChildOf(const std::optional<TraceContext>& parent) {
  TraceContext child;
  child.trace_id = parent ? parent->trace_id : RandomHex(kTraceIdHex / 2);
  child.parent_id = RandomHex(kParentIdHex / 2);
  // Only the sampled bit is defined; the others are passed on as zero. A
  // trace started here is not sampled: a caller that wants a change's
  // journey logged in full sends a sampled traceparent.
  const bool sampled = parent && (absl::HexStringToBytes(parent->flags)[0] & 1) != 0;
  child.flags = sampled ? "01" : "00";
  return child;
}

bool IsSampled(absl::string_view traceparent) {
  const std::optional<TraceContext> t = ParseTraceparent(traceparent);
  return t.has_value() && (absl::HexStringToBytes(t->flags)[0] & 1) != 0;
}

}  // namespace booking
