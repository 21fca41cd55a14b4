// A throwaway certificate authority for tests, made at run time with the
// openssl CLI (scripts/lib/tls-certs.sh) in the test's directory: nothing
// is committed. Clients of the services connect with SslCredentials.
#ifndef TESTS_SUPPORT_TEST_PKI_H_
#define TESTS_SUPPORT_TEST_PKI_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"

namespace booking::testing {

inline constexpr char kSpiffePrefix[] = "spiffe://booking.test/";

class TestPki {
 public:
  // A CA in `dir` (created).
  static absl::StatusOr<TestPki> Create(const std::string& dir);

  // dir/<name>.crt and .key, signed by the CA, with SANs localhost,
  // 127.0.0.1 and the URI kSpiffePrefix + name. Again: a new key and
  // certificate replace the files (a rotation).
  absl::Status Issue(const std::string& name) const;
  // dir/<name>.crt and .key with exactly `sans`, an X.509 subjectAltName
  // list ("URI:spiffe://td/x,DNS:host"; empty: no subjectAltName at all),
  // and the subject CN `cn` (empty: name).
  absl::Status IssueWith(const std::string& name, const std::string& sans,
                         const std::string& cn = "") const;

  std::string cert(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + ".key"; }
  std::string ca() const { return dir_ + "/ca.crt"; }

  // TLS trusting the CA, presenting <name>'s certificate (none when empty).
  std::shared_ptr<grpc::ChannelCredentials> Client(const std::string& name) const;

  // A service's flags: its certificate, key and the CA (mTLS).
  std::vector<std::string> ServerFlags(const std::string& name) const;

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

std::string ReadWholeFile(const std::string& path);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_TEST_PKI_H_
