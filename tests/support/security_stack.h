// Both services over mTLS with tokens and a policy, for the security tests:
// certificates from a throwaway CA (test_pki.h); callers named by a
// certificate or by a bearer token (over the "tool" certificate, which the
// policy grants nothing).
#ifndef TESTS_SUPPORT_SECURITY_STACK_H_
#define TESTS_SUPPORT_SECURITY_STACK_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/test_pki.h"

namespace booking::testing {

struct Caller {
  std::string cert;   // the client certificate presented
  std::string token;  // a bearer token; empty: none
  static Caller Cert(std::string name) { return {std::move(name), ""}; }
  static Caller Token(std::string token) { return {"tool", std::move(token)}; }
  std::string Describe() const;
};

class SecureStack {
 public:
  static constexpr char kWriterPrincipal[] = "dispatcher@test";
  static constexpr char kWriterToken[] = "token-dispatcher";  // ServiceSet::kToken
  static constexpr char kReaderToken[] = "token-reader-000000001";
  // The policy: booking-service ingests; readers (the auditor's certificate,
  // reader@test) read bookings and history; writers change bookings.
  static const char kPolicy[];

  struct Options {
    std::string policy = kPolicy;  // the policy file's text
    // booking-service's (the relay's) SANs; empty: TestPki::Issue's.
    std::string relay_sans;
    // The tokens file's text; empty: the writer's and reader@test's tokens.
    std::string tokens;
  };
  static absl::StatusOr<std::unique_ptr<SecureStack>> Start(PgCluster& pg,
                                                            const std::string& prefix,
                                                            Options options);
  static absl::StatusOr<std::unique_ptr<SecureStack>> Start(PgCluster& pg,
                                                            const std::string& prefix) {
    return Start(pg, prefix, Options());
  }

  ServiceSet& set() { return *set_; }
  const ServiceSet& set() const { return *set_; }
  const TestPki& pki() const { return pki_; }
  const std::string& tokens_file() const { return tokens_file_; }
  const std::string& policy_file() const { return policy_file_; }

  std::shared_ptr<grpc::Channel> Channel(const std::string& target, const Caller& caller) const;
  static std::unique_ptr<grpc::ClientContext> Context(const Caller& caller);

  // As the writer, through booking-service: a paid booking; then cancelled.
  absl::Status CreateBooking(const std::string& id);
  absl::Status CancelBooking(const std::string& id);
  // An Ingest of one made-up event as `caller`; the stream's status.
  grpc::Status ForgeNextEvent(const Caller& caller, const std::string& booking_id, int64_t sequence,
                              const std::string& from, const std::string& to,
                              const std::string& changed_by);

  // A second history-service on the same store: TLS without client
  // certificates, the same tokens and policy.
  struct Extra {
    std::optional<Process> process;
    std::string target;
  };
  absl::StatusOr<Extra> StartTlsOnlyHistory();

 private:
  SecureStack(std::unique_ptr<ServiceSet> set, TestPki pki)
      : set_(std::move(set)), pki_(std::move(pki)) {}
  std::vector<std::string> AccessFlags() const;

  std::unique_ptr<ServiceSet> set_;
  TestPki pki_;
  std::string tokens_file_, policy_file_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_SECURITY_STACK_H_
