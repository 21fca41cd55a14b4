#include "common/principal.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace booking {
namespace {

constexpr absl::string_view kSpiffeScheme = "spiffe://";
constexpr absl::string_view kDnsPrefix = "dns:";
constexpr absl::string_view kTokenPrefix = "token:";
constexpr size_t kMaxSpiffeIdBytes = 2048;
constexpr size_t kMaxTrustDomainBytes = 255;
constexpr size_t kMaxHostNameBytes = 253;
constexpr size_t kMaxLabelBytes = 63;

absl::Status Invalid(absl::string_view what, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", Printable(text), "\" ", why));
}

// What a byte that no SPIFFE ID holds says about the text (`authority`:
// found before the path); empty for none of the URI parts below.
absl::string_view UriPartOf(char c, bool authority) {
  if (authority && c == '@') return "has userinfo";
  if (authority && c == ':') return "has a port";
  switch (c) {
    case '%':
      return "is percent-encoded";
    case '?':
      return "has a query";
    case '#':
      return "has a fragment";
    default:
      return "";
  }
}

bool IsTrustDomainChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '-' || c == '_';
}
bool IsPathChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_'; }

// The first byte of `text` that `allowed` refuses, explained.
template <typename Allowed>
std::string FirstRefused(absl::string_view text, Allowed allowed, absl::string_view part) {
  for (char c : text) {
    if (allowed(c)) continue;
    absl::string_view uri_part = UriPartOf(c, part == "trust domain");
    if (!uri_part.empty()) return std::string(uri_part);
    return absl::StrCat("has '", absl::CHexEscape(absl::string_view(&c, 1)), "' in its ", part);
  }
  return "";
}

absl::Status CheckTrustDomain(absl::string_view id, absl::string_view td) {
  constexpr absl::string_view kWhat = "SPIFFE ID";
  if (td.empty()) return Invalid(kWhat, id, "has no trust domain");
  if (td.size() > kMaxTrustDomainBytes) return Invalid(kWhat, id, "has a trust domain too long");
  // URI parts first ("%2E" is percent-encoding, not upper case).
  for (char c : td) {
    if (absl::string_view part = UriPartOf(c, true); !part.empty()) return Invalid(kWhat, id, part);
  }
  for (char c : td) {
    if (absl::ascii_isupper(c)) return Invalid(kWhat, id, "has an upper-case trust domain");
  }
  if (std::string why = FirstRefused(td, IsTrustDomainChar, "trust domain"); !why.empty()) {
    return Invalid(kWhat, id, why);
  }
  for (absl::string_view label : absl::StrSplit(td, '.')) {
    if (label.empty()) return Invalid(kWhat, id, "has an empty label in its trust domain");
  }
  return absl::OkStatus();
}

absl::Status CheckSpiffePath(absl::string_view id, absl::string_view path) {
  constexpr absl::string_view kWhat = "SPIFFE ID";
  if (path.empty()) return absl::OkStatus();  // the trust domain's own ID
  if (std::string why = FirstRefused(
          path, [](char c) { return c == '/' || IsPathChar(c); }, "path");
      !why.empty()) {
    return Invalid(kWhat, id, why);
  }
  std::vector<absl::string_view> segments = absl::StrSplit(path.substr(1), '/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].empty()) {
      return Invalid(kWhat, id,
                     i + 1 == segments.size() ? "ends with '/'" : "has an empty path segment");
    }
    if (segments[i] == "." || segments[i] == "..") {
      return Invalid(kWhat, id, "has a \".\" or \"..\" path segment");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLabel(absl::string_view name, absl::string_view label) {
  constexpr absl::string_view kWhat = "DNS name";
  if (label.empty()) return Invalid(kWhat, name, "has an empty label");
  if (label.size() > kMaxLabelBytes) return Invalid(kWhat, name, "has a label over 63 bytes");
  if (label.front() == '-' || label.back() == '-') {
    return Invalid(kWhat, name, "has a label starting or ending with '-'");
  }
  for (char c : label) {
    if (!absl::ascii_isalnum(c) && c != '-') {
      return Invalid(kWhat, name,
                     absl::StrCat("has '", absl::CHexEscape(absl::string_view(&c, 1)),
                                  "': a host name holds letters, digits, '-' and '.'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Printable(absl::string_view text) {
  constexpr size_t kMax = 120;
  std::string out = absl::CHexEscape(text.substr(0, kMax));
  if (text.size() > kMax) absl::StrAppend(&out, "...");
  return out;
}

absl::StatusOr<Principal> Principal::SpiffeId(absl::string_view id) {
  constexpr absl::string_view kWhat = "SPIFFE ID";
  if (!absl::StartsWith(id, kSpiffeScheme)) {
    return Invalid(kWhat, id,
                   absl::StartsWithIgnoreCase(id, kSpiffeScheme)
                       ? "has an upper-case scheme: write \"spiffe://\""
                       : "does not start with \"spiffe://\"");
  }
  if (id.size() > kMaxSpiffeIdBytes) return Invalid(kWhat, id, "is over 2048 bytes");
  absl::string_view rest = id.substr(kSpiffeScheme.size());
  const size_t slash = rest.find('/');
  const absl::string_view td = rest.substr(0, slash);
  const absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash);
  if (absl::Status s = CheckTrustDomain(id, td); !s.ok()) return s;
  if (absl::Status s = CheckSpiffePath(id, path); !s.ok()) return s;
  return Principal(Kind::kSpiffeId, std::string(id));
}

absl::StatusOr<Principal> Principal::DnsName(absl::string_view name) {
  constexpr absl::string_view kWhat = "DNS name";
  if (name.empty()) return Invalid(kWhat, name, "is empty");
  if (absl::StrContains(name, '*')) {
    return Invalid(kWhat, name, "is a wildcard: it names no single host");
  }
  if (absl::EndsWith(name, ".")) {
    return Invalid(kWhat, name, "ends with '.': write the name without the trailing dot");
  }
  if (name.size() > kMaxHostNameBytes) return Invalid(kWhat, name, "is over 253 bytes");
  std::vector<absl::string_view> labels = absl::StrSplit(name, '.');
  for (absl::string_view label : labels) {
    if (absl::Status s = CheckLabel(name, label); !s.ok()) return s;
  }
  bool all_digits = true;
  for (char c : labels.back()) all_digits = all_digits && absl::ascii_isdigit(c);
  if (all_digits) return Invalid(kWhat, name, "is an IP address, not a host name");
  return Principal(Kind::kDnsName, absl::AsciiStrToLower(name));
}

absl::StatusOr<Principal> Principal::Token(absl::string_view name) {
  constexpr absl::string_view kWhat = "token principal";
  if (name.empty()) return Invalid(kWhat, name, "is empty");
  for (char c : name) {
    if (!absl::ascii_isgraph(c)) return Invalid(kWhat, name, "holds a space or a control byte");
  }
  if (name == "*" || name == "anonymous") {
    return Invalid(kWhat, name, "is reserved: choose another name");
  }
  for (absl::string_view prefix : {absl::string_view("spiffe:"), kDnsPrefix, kTokenPrefix}) {
    if (absl::StartsWithIgnoreCase(name, prefix)) {
      return Invalid(kWhat, name,
                     absl::StrCat("starts with \"", prefix,
                                  "\", which names another kind of principal: choose another "
                                  "name"));
    }
  }
  return Principal(Kind::kToken, std::string(name));
}

std::string Principal::PolicyName() const {
  switch (kind_) {
    case Kind::kSpiffeId:
      return name_;
    case Kind::kDnsName:
      return absl::StrCat(kDnsPrefix, name_);
    case Kind::kToken:
      return absl::StrCat(kTokenPrefix, name_);
  }
  return name_;
}

std::string Principal::Display() const { return kind_ == Kind::kToken ? name_ : PolicyName(); }

absl::StatusOr<Principal> ParsePolicyPrincipal(absl::string_view word) {
  if (absl::StartsWithIgnoreCase(word, "spiffe:")) return Principal::SpiffeId(word);
  absl::string_view rest = word;
  if (absl::ConsumePrefix(&rest, kDnsPrefix)) return Principal::DnsName(rest);
  if (absl::ConsumePrefix(&rest, kTokenPrefix)) return Principal::Token(rest);
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", Printable(word),
      "\" names no kind of principal: write \"spiffe://<trust-domain>/<path>\" (a "
      "certificate's URI SAN), \"dns:<host>\" (a certificate's DNS SAN) or \"token:<name>\" "
      "(a tokens-file principal)"));
}

}  // namespace booking
