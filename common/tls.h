// Transport security of every gRPC listener and client: TLS from a
// certificate and key on disk (mutual TLS when a CA is given: client
// certificates are then required and verified), or plaintext only when asked
// for explicitly. Certificates are re-read from disk while the process runs
// (gRPC's FileWatcherCertificateProvider), so a rotation needs no restart;
// connections already open keep the certificate they started with.
#ifndef BOOKING_COMMON_TLS_H_
#define BOOKING_COMMON_TLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace booking {

struct TlsSettings {
  std::string cert_file;  // PEM certificate chain, ours
  std::string key_file;   // PEM private key of cert_file
  std::string ca_file;    // PEM CA bundle: verifies peers; set => mTLS
  bool insecure_plaintext = false;
  // How often certificate files (and the tokens and policy files) are
  // checked for changes.
  absl::Duration reload_interval = absl::Seconds(10);

  bool mutual() const { return !ca_file.empty(); }
};

// From --tls-cert, --tls-key, --tls-ca (else <prefix>_TLS_CERT, ...),
// --insecure-plaintext and --credentials-reload-interval. INVALID_ARGUMENT
// saying what to pass when neither TLS nor plaintext was chosen, both were,
// or a file is missing, unreadable, not PEM, or a key that does not match
// its certificate.
absl::StatusOr<TlsSettings> TlsSettingsFromFlags(absl::string_view env_prefix);

// Checks the files of `settings` as TlsSettingsFromFlags does.
absl::Status CheckTlsFiles(const TlsSettings& settings);

// Server credentials: insecure for plaintext; else TLS with a reloading
// certificate provider, client certificates required and verified against
// ca_file when set.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const TlsSettings& settings);

// Client credentials: insecure for plaintext; else TLS verifying the server
// against ca_file (the system's roots when unset), presenting cert_file as
// our identity when set.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const TlsSettings& settings);

// A one-line description for logs ("mtls", "tls", "plaintext").
std::string TlsModeName(const TlsSettings& settings);

}  // namespace booking

#endif  // BOOKING_COMMON_TLS_H_
