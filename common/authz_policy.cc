#include "common/authz_policy.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace booking {
namespace {

constexpr absl::string_view kAlwaysAllowedServices[] = {
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
};

// "/pkg.Service/Method" -> "/pkg.Service/*".
std::string ServicePattern(absl::string_view method) {
  const size_t slash = method.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return "";
  return absl::StrCat(method.substr(0, slash + 1), "*");
}

}  // namespace

bool IsAlwaysAllowed(absl::string_view method) {
  for (absl::string_view prefix : kAlwaysAllowedServices) {
    if (absl::StartsWith(method, prefix)) return true;
  }
  return false;
}

absl::StatusOr<std::string> AuthzPolicy::CheckMethod(absl::string_view method) const {
  if (method == "*") return std::string(method);
  // "/" service "/" (method | "*"), the service a dotted name.
  std::vector<absl::string_view> parts = absl::StrSplit(method, '/');
  if (parts.size() != 3 || !parts[0].empty() || parts[1].empty() || parts[2].empty() ||
      !absl::StrContains(parts[1], '.') || absl::StrContains(parts[1], '*') ||
      (absl::StrContains(parts[2], '*') && parts[2] != "*")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", method,
        "\" is not a method: write \"/package.Service/Method\", \"/package.Service/*\" or \"*\""));
  }
  return std::string(method);
}

absl::Status AuthzPolicy::AddLine(absl::string_view line) {
  std::vector<std::string> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.size() < 3 || (words[0] != "group" && words[0] != "allow")) {
    return absl::InvalidArgumentError(
        "expected \"group <name> <principal>...\" or \"allow <principal|group|*> <method>...\"");
  }
  if (words[0] == "group") {
    if (words[1] == "*") return absl::InvalidArgumentError("a group cannot be named \"*\"");
    for (size_t i = 2; i < words.size(); ++i) groups_of_[words[i]].push_back(words[1]);
    return absl::OkStatus();
  }
  absl::flat_hash_set<std::string>& methods = allowed_[words[1]];
  for (size_t i = 2; i < words.size(); ++i) {
    absl::StatusOr<std::string> method = CheckMethod(words[i]);
    if (!method.ok()) return method.status();
    methods.insert(*std::move(method));
  }
  ++rules_;
  return absl::OkStatus();
}

absl::StatusOr<AuthzPolicy> AuthzPolicy::Parse(absl::string_view text, absl::string_view source) {
  AuthzPolicy policy;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (absl::Status s = policy.AddLine(line); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": ", s.message()));
    }
  }
  if (policy.rules_ == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " allows nothing: add \"allow\" lines (see README)"));
  }
  return policy;
}

absl::StatusOr<AuthzPolicy> AuthzPolicy::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read policy file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

bool AuthzPolicy::Allows(absl::string_view principal, absl::string_view method) const {
  if (principal.empty()) return false;
  const std::string service = ServicePattern(method);
  const auto allows = [&](absl::string_view caller) {
    auto it = allowed_.find(caller);
    if (it == allowed_.end()) return false;
    const absl::flat_hash_set<std::string>& m = it->second;
    return m.contains(method) || m.contains(service) || m.contains("*");
  };
  if (allows(principal) || allows("*")) return true;
  auto groups = groups_of_.find(principal);
  if (groups == groups_of_.end()) return false;
  for (const std::string& group : groups->second) {
    if (allows(group)) return true;
  }
  return false;
}

}  // namespace booking
