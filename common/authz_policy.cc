#include "common/authz_policy.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "booking/v1/booking.pb.h"
#include "common/closest_name.h"
#include "history/v1/history.pb.h"

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

// The services a policy names: both services' own (from their descriptors,
// linked in by naming a message of each file).
std::vector<const google::protobuf::ServiceDescriptor*> PolicyServices() {
  return {v1::Booking::descriptor()->file()->FindServiceByName("BookingService"),
          ::history::v1::IngestRequest::descriptor()->file()->FindServiceByName("HistoryService")};
}

// Every name a policy line may give a method by: "/pkg.Service/M" and
// "/pkg.Service/*" of PolicyServices().
std::vector<std::string> PolicyMethodNames() {
  std::vector<std::string> names;
  for (const google::protobuf::ServiceDescriptor* service : PolicyServices()) {
    names.push_back(absl::StrCat("/", service->full_name(), "/*"));
    for (int i = 0; i < service->method_count(); ++i) {
      names.push_back(absl::StrCat("/", service->full_name(), "/", service->method(i)->name()));
    }
  }
  return names;
}

// "; did you mean X?" for the closest of `known` to `typed`, or "".
std::string Suggestion(absl::string_view typed, const std::vector<std::string>& known) {
  const std::string best = ClosestName(typed, known);
  return best.empty() ? "" : absl::StrCat("; did you mean ", best, "?");
}

// "" when `method` ("/pkg.Service/M" or "/pkg.Service/*") is one of
// PolicyServices(); else why not, with the closest known name.
std::string UnknownMethod(absl::string_view method) {
  std::vector<std::string> services;
  for (const google::protobuf::ServiceDescriptor* service : PolicyServices()) {
    const std::string prefix = absl::StrCat("/", service->full_name(), "/");
    services.push_back(prefix);
    absl::string_view name = method;
    if (!absl::ConsumePrefix(&name, prefix)) continue;
    if (name == "*" || service->FindMethodByName(std::string(name)) != nullptr) return "";
    std::vector<std::string> methods;
    for (int i = 0; i < service->method_count(); ++i) methods.push_back(service->method(i)->name());
    return absl::StrCat("\"", method, "\" is no method of ", service->full_name(), " (",
                        absl::StrJoin(methods, ", "), ")", Suggestion(method, PolicyMethodNames()));
  }
  if (IsAlwaysAllowed(method)) {
    return absl::StrCat("\"", method,
                        "\": health and reflection are answered to everyone; no line names them");
  }
  return absl::StrCat("\"", method, "\" is no method of this system's services (",
                      absl::StrJoin(services, "*, "), "*)",
                      Suggestion(method, PolicyMethodNames()));
}

absl::Status CheckMethod(absl::string_view method) {
  if (method == "*") return absl::OkStatus();
  // "/" service "/" (method | "*"), the service a dotted name.
  std::vector<absl::string_view> parts = absl::StrSplit(method, '/');
  if (parts.size() != 3 || !parts[0].empty() || parts[1].empty() || parts[2].empty() ||
      !absl::StrContains(parts[1], '.') || absl::StrContains(parts[1], '*') ||
      (absl::StrContains(parts[2], '*') && parts[2] != "*")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", method,
        "\" is not a method: write \"/package.Service/Method\", \"/package.Service/*\" or \"*\""));
  }
  if (std::string unknown = UnknownMethod(method); !unknown.empty()) {
    return absl::InvalidArgumentError(unknown);
  }
  return absl::OkStatus();
}

bool IsGroupName(absl::string_view word) {
  if (word.empty()) return false;
  for (char c : word) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// A principal of a line: one that names its kind. A bare word names none
// (the format before kinds): the error says how to write it now.
absl::StatusOr<Principal> PrincipalOf(absl::string_view word) {
  if (absl::StrContains(word, ':')) return ParsePolicyPrincipal(word);
  std::vector<std::string> forms;
  if (Principal::Token(word).ok()) {
    forms.push_back(absl::StrCat("\"token:", word, "\" for the tokens-file principal"));
  }
  if (Principal::DnsName(word).ok()) {
    forms.push_back(absl::StrCat("\"dns:", word, "\" for a certificate's DNS SAN"));
  }
  if (forms.empty()) return ParsePolicyPrincipal(word);
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", Printable(word), "\" names no kind of principal: write ", absl::StrJoin(forms, " or "),
      " (principals are typed: spiffe://..., dns:..., ", "token:...)"));
}

}  // namespace

bool IsAlwaysAllowed(absl::string_view method) {
  for (absl::string_view prefix : kAlwaysAllowedServices) {
    if (absl::StartsWith(method, prefix)) return true;
  }
  return false;
}

absl::Status AuthzPolicy::AddGroup(const std::vector<std::string>& words) {
  if (!IsGroupName(words[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", Printable(words[1]),
                     "\" cannot name a group: use letters, digits, '.', '_' and '-'"));
  }
  groups_.insert(words[1]);
  for (size_t i = 2; i < words.size(); ++i) {
    absl::StatusOr<Principal> member = PrincipalOf(words[i]);
    if (!member.ok()) return member.status();
    groups_of_[member->PolicyName()].push_back(words[1]);
  }
  return absl::OkStatus();
}

absl::Status AuthzPolicy::AddAllow(const std::vector<std::string>& words, int line_no) {
  std::string caller = words[1];
  if (IsGroupName(caller)) {
    groups_allowed_.emplace_back(line_no, caller);  // checked once every group is known
  } else if (caller != "*") {
    absl::StatusOr<Principal> principal = PrincipalOf(caller);
    if (!principal.ok()) return principal.status();
    caller = principal->PolicyName();
  }
  absl::flat_hash_set<std::string>& methods = allowed_[caller];
  for (size_t i = 2; i < words.size(); ++i) {
    if (absl::Status s = CheckMethod(words[i]); !s.ok()) return s;
    methods.insert(words[i]);
  }
  ++rules_;
  return absl::OkStatus();
}

absl::Status AuthzPolicy::AddLine(absl::string_view line, int line_no) {
  std::vector<std::string> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.size() < 3 || (words[0] != "group" && words[0] != "allow")) {
    return absl::InvalidArgumentError(
        "expected \"group <name> <principal>...\" or \"allow <principal|group|*> <method>...\"");
  }
  return words[0] == "group" ? AddGroup(words) : AddAllow(words, line_no);
}

absl::StatusOr<AuthzPolicy> AuthzPolicy::Parse(absl::string_view text, absl::string_view source) {
  AuthzPolicy policy;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (absl::Status s = policy.AddLine(line, line_no); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": ", s.message()));
    }
  }
  for (const auto& [group_line, group] : policy.groups_allowed_) {
    if (policy.groups_.contains(group)) continue;
    std::vector<std::string> defined(policy.groups_.begin(), policy.groups_.end());
    std::sort(defined.begin(), defined.end());  // a tie goes to the same one every time
    const std::string near = ClosestName(group, defined);
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", group_line, ": \"", group, "\" is no group of this policy",
                     near.empty() ? "" : absl::StrCat(" (did you mean ", near, "?)"),
                     " (define it: \"group ", group, " <principal>...\"); if it is a principal, ",
                     PrincipalOf(group).status().message()));
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

bool AuthzPolicy::Allows(const Principal& principal, absl::string_view method) const {
  const std::string name = principal.PolicyName();
  const std::string service = ServicePattern(method);
  const auto allows = [&](absl::string_view caller) {
    auto it = allowed_.find(caller);
    if (it == allowed_.end()) return false;
    const absl::flat_hash_set<std::string>& m = it->second;
    return m.contains(method) || m.contains(service) || m.contains("*");
  };
  if (allows(name) || allows("*")) return true;
  auto groups = groups_of_.find(name);
  if (groups == groups_of_.end()) return false;
  for (const std::string& group : groups->second) {
    if (allows(group)) return true;
  }
  return false;
}

}  // namespace booking
