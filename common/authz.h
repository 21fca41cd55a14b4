// Authentication and authorization of every call, decided in one place (the
// server interceptor of common/authz_interceptor.h) before the handler runs.
//
// - A client certificate whose names are ambiguous (common/identity.h) is
//   UNAUTHENTICATED (reason INVALID_CERTIFICATE_IDENTITY), whatever else
//   the call carries.
// - A bearer token, when the tokens file is set, names the caller; an
//   unknown or malformed token is UNAUTHENTICATED. Else the verified client
//   certificate names it (common/identity.h).
// - With a policy (--authz-policy): deny by default. No identity:
//   UNAUTHENTICATED. An identity the policy does not allow the method:
//   PERMISSION_DENIED with an ErrorInfo (reason METHOD_NOT_ALLOWED, domain
//   "auth.booking", the method and the principal as a policy names it).
// - Without a policy: every identified caller may call every method; when a
//   tokens file is set a caller must still be identified (today's
//   behaviour of booking-service); with neither, callers are "anonymous".
// - Health and reflection: always allowed.
// The tokens and policy files are re-read when they change on disk; a file
// that no longer loads is logged and the previous version kept. A call
// holds the version it was decided with.
#ifndef BOOKING_COMMON_AUTHZ_H_
#define BOOKING_COMMON_AUTHZ_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/authz_policy.h"
#include "common/identity.h"
#include "grpcpp/server_context.h"

namespace booking {

struct AccessSettings {
  std::string tokens_file;  // empty: no tokens
  std::string policy_file;  // empty: no policy
  absl::Duration reload_interval = absl::Seconds(10);
};

// From --auth-tokens-file and --authz-policy (else <prefix>_AUTH_TOKENS_FILE,
// <prefix>_AUTHZ_POLICY) and --credentials-reload-interval.
AccessSettings AccessSettingsFromFlags(absl::string_view env_prefix);

// Thread safe.
class AccessControl {
 public:
  // Loads both files (INVALID_ARGUMENT naming what is wrong) and starts
  // watching them.
  static absl::StatusOr<std::unique_ptr<AccessControl>> Start(AccessSettings settings);
  // Allows everything; callers are named by certificate or "anonymous".
  static std::unique_ptr<AccessControl> Open();
  ~AccessControl();
  AccessControl(const AccessControl&) = delete;
  AccessControl& operator=(const AccessControl&) = delete;

  struct Decision {
    std::string principal;  // Principal::Display(); "anonymous" when nothing names the caller
    absl::Status refusal;   // OK: allowed
  };
  Decision Decide(const grpc::ServerContextBase& context, absl::string_view method) const;

  // One line for the startup log.
  std::string Describe() const;

  bool has_policy() const { return !settings_.policy_file.empty(); }
  bool has_tokens() const { return !settings_.tokens_file.empty(); }

 private:
  struct Snapshot {
    std::shared_ptr<const TokenTable> tokens;
    std::shared_ptr<const AuthzPolicy> policy;
  };
  struct FileStamp {
    int64_t mtime_ns = 0;
    int64_t size = -1;
    bool operator==(const FileStamp& o) const { return mtime_ns == o.mtime_ns && size == o.size; }
  };
  explicit AccessControl(AccessSettings settings) : settings_(std::move(settings)) {}
  absl::Status Load(bool tokens, bool policy);
  void WatchLoop();
  Snapshot Current() const;
  // The caller's principal: nullopt for none, an error for a bad token or
  // an ambiguous certificate.
  absl::StatusOr<std::optional<Principal>> Identify(const grpc::ServerContextBase& context,
                                                    const TokenTable* tokens) const;

  const AccessSettings settings_;
  mutable absl::Mutex mu_;
  Snapshot current_ ABSL_GUARDED_BY(mu_);
  FileStamp tokens_stamp_, policy_stamp_;  // the watcher's only
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_AUTHZ_H_
