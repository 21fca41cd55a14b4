#include "common/authz.h"

#include <sys/stat.h>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "common/log.h"
#include "common/rpc_error.h"

ABSL_FLAG(std::string, auth_tokens_file, "",
          "file of \"principal token\" lines (tokens of at least 16 bytes); callers send "
          "\"authorization: Bearer <token>\"; re-read when it changes [env "
          "BOOKING_AUTH_TOKENS_FILE / HISTORY_AUTH_TOKENS_FILE; default: no tokens]");
ABSL_FLAG(std::string, authz_policy, "",
          "authorization policy file (\"group\" and \"allow\" lines, see README): deny by default "
          "when set; re-read when it changes [env BOOKING_AUTHZ_POLICY / HISTORY_AUTHZ_POLICY; "
          "default: no policy, every identified caller may call every method]");
ABSL_DECLARE_FLAG(absl::Duration, credentials_reload_interval);

namespace booking {
namespace {

constexpr char kDomain[] = "auth.booking";

absl::Status Unauthenticated(absl::string_view message, absl::string_view reason) {
  return RpcError(absl::StatusCode::kUnauthenticated, std::string(message))
      .Info(std::string(reason), kDomain);
}

}  // namespace

AccessSettings AccessSettingsFromFlags(absl::string_view env_prefix) {
  const auto env = [&](absl::string_view name) { return absl::StrCat(env_prefix, "_", name); };
  return {.tokens_file = FlagOrEnv(FLAGS_auth_tokens_file, env("AUTH_TOKENS_FILE").c_str()),
          .policy_file = FlagOrEnv(FLAGS_authz_policy, env("AUTHZ_POLICY").c_str()),
          .reload_interval = absl::GetFlag(FLAGS_credentials_reload_interval)};
}

absl::StatusOr<std::unique_ptr<AccessControl>> AccessControl::Start(AccessSettings settings) {
  std::unique_ptr<AccessControl> access(new AccessControl(std::move(settings)));
  if (absl::Status s = access->Load(true, true); !s.ok()) return s;
  if (!access->settings_.tokens_file.empty() || !access->settings_.policy_file.empty()) {
    access->watcher_ = std::thread([a = access.get()] { a->WatchLoop(); });
  }
  return access;
}

std::unique_ptr<AccessControl> AccessControl::Open() {
  return std::unique_ptr<AccessControl>(new AccessControl(AccessSettings{}));
}

AccessControl::~AccessControl() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

namespace {

// The file's modification time and size, to notice a change (also one
// replaced by rename, as Kubernetes does with mounted Secrets).
template <typename Stamp>
Stamp StampOf(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) return {};
  return {.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
          .size = st.st_size};
}

}  // namespace

absl::Status AccessControl::Load(bool tokens, bool policy) {
  Snapshot next = Current();
  if (tokens && !settings_.tokens_file.empty()) {
    tokens_stamp_ = StampOf<FileStamp>(settings_.tokens_file);
    absl::StatusOr<TokenTable> table = TokenTable::FromFile(settings_.tokens_file);
    if (!table.ok()) return table.status();
    next.tokens = std::make_shared<const TokenTable>(*std::move(table));
  }
  if (policy && !settings_.policy_file.empty()) {
    policy_stamp_ = StampOf<FileStamp>(settings_.policy_file);
    absl::StatusOr<AuthzPolicy> p = AuthzPolicy::FromFile(settings_.policy_file);
    if (!p.ok()) return p.status();
    next.policy = std::make_shared<const AuthzPolicy>(*std::move(p));
  }
  absl::MutexLock lock(&mu_);
  current_ = std::move(next);
  return absl::OkStatus();
}

void AccessControl::WatchLoop() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), settings_.reload_interval)) {
    mu_.Unlock();
    const bool tokens = !(StampOf<FileStamp>(settings_.tokens_file) == tokens_stamp_);
    const bool policy = !(StampOf<FileStamp>(settings_.policy_file) == policy_stamp_);
    if (tokens || policy) {
      absl::Status loaded = Load(tokens, policy);
      if (loaded.ok()) {
        LogInfo("credentials reloaded", {{"tokens", tokens ? settings_.tokens_file : "unchanged"},
                                         {"policy", policy ? settings_.policy_file : "unchanged"}});
      } else {
        LogError("reload failed; the previous tokens and policy stay in force",
                 {{"error", loaded.ToString()}});
      }
    }
    mu_.Lock();
  }
}

AccessControl::Snapshot AccessControl::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::optional<Principal>> AccessControl::Identify(
    const grpc::ServerContextBase& context, const TokenTable* tokens) const {
  // The certificate is read first: an ambiguous one is refused even under a
  // valid token.
  absl::StatusOr<std::optional<Principal>> from_certificate =
      CertificatePrincipal(*context.auth_context());
  if (!from_certificate.ok()) {
    return RpcError(absl::StatusCode::kUnauthenticated,
                    std::string(from_certificate.status().message()))
        .Info("INVALID_CERTIFICATE_IDENTITY", kDomain,
              {{"problem", std::string(from_certificate.status().message())}});
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (tokens != nullptr && it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    if (!absl::ConsumePrefix(&value, "Bearer ")) {
      return Unauthenticated("authorization metadata must be \"Bearer <token>\"",
                             "MALFORMED_CREDENTIALS");
    }
    std::optional<Principal> principal = tokens->PrincipalOf(value);
    if (!principal.has_value())
      return Unauthenticated("unknown bearer token", "INVALID_CREDENTIALS");
    return principal;
  }
  return from_certificate;
}

AccessControl::Decision AccessControl::Decide(const grpc::ServerContextBase& context,
                                              absl::string_view method) const {
  const Snapshot snap = Current();
  absl::StatusOr<std::optional<Principal>> id = Identify(context, snap.tokens.get());
  Decision d;
  d.principal = id.ok() && id->has_value() ? (*id)->Display() : "anonymous";
  if (IsAlwaysAllowed(method)) return d;
  if (!id.ok()) {
    d.refusal = id.status();
    return d;
  }
  const bool required = snap.tokens != nullptr || snap.policy != nullptr;
  if (!id->has_value()) {
    if (required) {
      d.refusal = Unauthenticated(
          "this call needs an identity: a client certificate (mTLS) with a URI SAN (SPIFFE ID) "
          "or DNS SAN, or \"authorization: Bearer <token>\" metadata",
          "MISSING_CREDENTIALS");
    }
    return d;
  }
  const Principal& principal = **id;
  if (snap.policy != nullptr && !snap.policy->Allows(principal, method)) {
    const std::string name = principal.PolicyName();
    d.refusal =
        RpcError(absl::StatusCode::kPermissionDenied, absl::StrCat(name, " may not call ", method))
            .Info("METHOD_NOT_ALLOWED", kDomain,
                  {{"method", std::string(method)}, {"principal", name}});
  }
  return d;
}

std::string AccessControl::Describe() const {
  const Snapshot snap = Current();
  return absl::StrCat(
      "tokens=", snap.tokens != nullptr ? absl::StrCat(snap.tokens->size()) : "off", " policy=",
      snap.policy != nullptr ? absl::StrCat(snap.policy->rule_count(), " rules") : "off");
}

}  // namespace booking
