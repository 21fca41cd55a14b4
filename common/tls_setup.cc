#include "common/tls_setup.h"

#include "absl/strings/str_cat.h"
#include "common/authz.h"
#include "common/log.h"

namespace booking {

absl::StatusOr<TlsSettings> SecureServer(absl::string_view env_prefix, ServerConfig& config,
                                         absl::string_view policy_needed) {
  absl::StatusOr<TlsSettings> tls = TlsSettingsFromFlags(env_prefix);
  if (!tls.ok()) {
    LogError(tls.status().message());
    return tls.status();
  }
  absl::StatusOr<std::unique_ptr<AccessControl>> access =
      AccessControl::Start(AccessSettingsFromFlags(env_prefix));
  if (!access.ok()) {
    LogError("cannot load the tokens or the policy", {{"error", access.status().ToString()}});
    return access.status();
  }
  const bool open_mesh = tls->insecure_plaintext && !(*access)->has_tokens();
  if (!policy_needed.empty() && !(*access)->has_policy() && !open_mesh) {
    absl::Status refused = absl::FailedPreconditionError(
        absl::StrCat("no --authz-policy (", env_prefix, "_AUTHZ_POLICY) over ", TlsModeName(*tls),
                     (*access)->has_tokens() ? " with tokens" : "", ": ", policy_needed));
    LogError(refused.message());
    return refused;
  }
  if (tls->insecure_plaintext) {
    LogWarning(
        "--insecure-plaintext: no TLS on the service port or to history-service; bearer tokens "
        "travel in clear. Only behind a mesh that does mTLS.");
  }
  config.credentials = ServerCredentialsFor(*tls);
  config.access = *std::move(access);
  LogInfo("transport security",
          {{"mode", TlsModeName(*tls)}, {"access", config.access->Describe()}});
  return tls;
}

}  // namespace booking
