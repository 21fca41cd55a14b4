#include "common/tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain) this service presents, to callers and as the relay's client "
          "identity [env BOOKING_TLS_CERT / HISTORY_TLS_CERT]; with --tls-key");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls-cert [env BOOKING_TLS_KEY / HISTORY_TLS_KEY]");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle that verifies peers; when set, callers MUST present a client "
          "certificate it signed (mutual TLS) [env BOOKING_TLS_CA / HISTORY_TLS_CA]");
ABSL_FLAG(bool, insecure_plaintext, false,
          "serve and call in plaintext, no TLS: only behind a mesh that already does mTLS "
          "(logged as a warning)");
ABSL_FLAG(absl::Duration, credentials_reload_interval, absl::Seconds(10),
          "how often certificate, key, CA, tokens and policy files are checked for changes");

namespace booking {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioDeleter> OpenFile(const std::string& path) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_file(path.c_str(), "r"));
}

absl::Status Unusable(absl::string_view flag, const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": ", why));
}

}  // namespace

absl::Status CheckTlsFiles(const TlsSettings& settings) {
  if (settings.insecure_plaintext) return absl::OkStatus();
  auto cert_bio = OpenFile(settings.cert_file);
  if (cert_bio == nullptr) return Unusable("--tls-cert", settings.cert_file, "cannot be read");
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return Unusable("--tls-cert", settings.cert_file, "holds no PEM certificate");
  }
  auto key_bio = OpenFile(settings.key_file);
  if (key_bio == nullptr) return Unusable("--tls-key", settings.key_file, "cannot be read");
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return Unusable("--tls-key", settings.key_file, "holds no PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Unusable("--tls-key", settings.key_file,
                    absl::StrCat("is not the key of the certificate in ", settings.cert_file));
  }
  if (settings.ca_file.empty()) return absl::OkStatus();
  auto ca_bio = OpenFile(settings.ca_file);
  if (ca_bio == nullptr) return Unusable("--tls-ca", settings.ca_file, "cannot be read");
  std::unique_ptr<X509, X509Deleter> ca(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  if (ca == nullptr) return Unusable("--tls-ca", settings.ca_file, "holds no PEM certificate");
  return absl::OkStatus();
}

absl::StatusOr<TlsSettings> TlsSettingsFromFlags(absl::string_view env_prefix) {
  const auto env = [&](absl::string_view name) { return absl::StrCat(env_prefix, "_", name); };
  TlsSettings s;
  s.cert_file = FlagOrEnv(FLAGS_tls_cert, env("TLS_CERT").c_str());
  s.key_file = FlagOrEnv(FLAGS_tls_key, env("TLS_KEY").c_str());
  s.ca_file = FlagOrEnv(FLAGS_tls_ca, env("TLS_CA").c_str());
  s.insecure_plaintext = absl::GetFlag(FLAGS_insecure_plaintext);
  s.reload_interval = absl::GetFlag(FLAGS_credentials_reload_interval);
  const bool any_tls = !s.cert_file.empty() || !s.key_file.empty() || !s.ca_file.empty();
  if (s.insecure_plaintext && any_tls) {
    return absl::InvalidArgumentError(
        "--insecure-plaintext and --tls-cert/--tls-key/--tls-ca exclude each other: choose one");
  }
  if (!s.insecure_plaintext && (s.cert_file.empty() || s.key_file.empty())) {
    return absl::InvalidArgumentError(
        "TLS is required: pass --tls-cert and --tls-key (and --tls-ca to require and verify "
        "client certificates), or --insecure-plaintext to serve without TLS (only behind a mesh "
        "that does mTLS)");
  }
  if (s.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--credentials-reload-interval must be at least 1s");
  }
  if (absl::Status files = CheckTlsFiles(s); !files.ok()) return files;
  return s;
}

namespace {

std::shared_ptr<grpc::experimental::CertificateProviderInterface> ProviderFor(
    const TlsSettings& settings) {
  const auto seconds = static_cast<unsigned int>(absl::ToInt64Seconds(settings.reload_interval));
  if (settings.cert_file.empty()) {
    return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(settings.ca_file,
                                                                                seconds);
  }
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      settings.key_file, settings.cert_file, settings.ca_file, seconds);
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const TlsSettings& settings) {
  if (settings.insecure_plaintext) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions options(ProviderFor(settings));
  options.watch_identity_key_cert_pairs();
  if (settings.mutual()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const TlsSettings& settings) {
  if (settings.insecure_plaintext) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (settings.cert_file.empty() && settings.ca_file.empty()) {
    return grpc::experimental::TlsCredentials(options);  // system roots, no identity
  }
  options.set_certificate_provider(ProviderFor(settings));
  if (!settings.cert_file.empty()) options.watch_identity_key_cert_pairs();
  if (!settings.ca_file.empty()) options.watch_root_certs();
  return grpc::experimental::TlsCredentials(options);
}

std::string TlsModeName(const TlsSettings& settings) {
  if (settings.insecure_plaintext) return "plaintext";
  return settings.mutual() ? "mtls" : "tls";
}

}  // namespace booking
