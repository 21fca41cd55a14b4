// What both services' main does to secure their port: TLS (or explicit
// plaintext) and access control from the flags, into the ServerConfig.
#ifndef BOOKING_COMMON_TLS_SETUP_H_
#define BOOKING_COMMON_TLS_SETUP_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/server_runtime.h"
#include "common/tls.h"

namespace booking {

// Sets config.credentials and config.access from --tls-*, --insecure-
// plaintext, --auth-tokens-file and --authz-policy (env `env_prefix`_...).
// On an error, logs what to pass and returns it: the caller exits 2.
// Plaintext is logged as a warning.
//
// `policy_needed`, when not empty, makes a policy required wherever the
// service can tell callers apart: a service started without --authz-policy
// is refused (FAILED_PRECONDITION, `policy_needed` saying what to pass)
// unless it runs with --insecure-plaintext and no tokens file, where a mesh
// decides who reaches it. Without a policy every client certificate of the
// CA, every token, would be allowed every method.
absl::StatusOr<TlsSettings> SecureServer(absl::string_view env_prefix, ServerConfig& config,
                                         absl::string_view policy_needed = "");

}  // namespace booking

#endif  // BOOKING_COMMON_TLS_SETUP_H_
