#include "tests/support/test_pki.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace booking::testing {
namespace {

absl::Status Run(const std::string& command) {
  const int rc = std::system(command.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("failed (", rc, "): ", command));
  return absl::OkStatus();
}

std::string Script() { return absl::StrCat(SOURCE_DIR, "/scripts/lib/tls-certs.sh"); }

}  // namespace

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<TestPki> TestPki::Create(const std::string& dir) {
  if (absl::Status s = Run(absl::StrCat(Script(), " ca '", dir, "'")); !s.ok()) return s;
  return TestPki(dir);
}

absl::Status TestPki::Issue(const std::string& name) const {
  return Run(absl::StrCat(Script(), " cert '", dir_, "' '", name,
                          "' 'DNS:localhost,IP:127.0.0.1,URI:", kSpiffePrefix, name, "'"));
}

absl::Status TestPki::IssueWith(const std::string& name, const std::string& sans,
                                const std::string& cn) const {
  // Single-quoted for the shell: the test's own names hold no quote.
  return Run(absl::StrCat(Script(), " cert '", dir_, "' '", name, "' '",
                          sans.empty() ? "none" : sans, "' '", cn.empty() ? name : cn, "'"));
}

std::shared_ptr<grpc::ChannelCredentials> TestPki::Client(const std::string& name) const {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadWholeFile(ca());
  if (!name.empty()) {
    options.pem_private_key = ReadWholeFile(key(name));
    options.pem_cert_chain = ReadWholeFile(cert(name));
  }
  return grpc::SslCredentials(options);
}

std::vector<std::string> TestPki::ServerFlags(const std::string& name) const {
  return {"--tls-cert", cert(name), "--tls-key", key(name), "--tls-ca", ca()};
}

}  // namespace booking::testing
