// Typed principals: what a SPIFFE ID, a DNS name and a token principal may
// be, and what a client certificate's subjectAltName makes of a caller.
// Certificates are built here with OpenSSL (self-signed: the parser reads
// names, the TLS handshake verified the chain), so names no CA tool would
// write (a NUL byte, two subjectAltName extensions) are tried too.
#include "common/principal.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <string>
#include <utility>
#include <vector>

#include "common/identity.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using namespace std::string_literals;  // NOLINT: "\0" inside names

TEST(PrincipalTest, SpiffeIdsAsTheSpecWritesThem) {
  for (const std::string id : {"spiffe://booking.local/booking-service", "spiffe://booking.local",
                               "spiffe://a_b-c.d9/A/b.c/_-", "spiffe://td/Booking-Service"}) {
    absl::StatusOr<Principal> p = Principal::SpiffeId(id);
    ASSERT_TRUE(p.ok()) << id << ": " << p.status();
    EXPECT_EQ(p->PolicyName(), id);
    EXPECT_EQ(p->Display(), id);
  }
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"SPIFFE://td/x", "upper-case scheme"},
      {"Spiffe://td/x", "upper-case scheme"},
      {"spiffe://BOOKING.local/x", "upper-case trust domain"},
      {"spiffe:///x", "no trust domain"},
      {"spiffe://", "no trust domain"},
      {"spiffe://td:443/x", "port"},
      {"spiffe://user@td/x", "userinfo"},
      {"spiffe://td/x?y=1", "query"},
      {"spiffe://td/x#f", "fragment"},
      {"spiffe://td/booking%2Dservice", "percent-encoded"},
      {"spiffe://td%2Ex/y", "percent-encoded"},
      {"spiffe://td/x/", "ends with '/'"},
      {"spiffe://td/", "ends with '/'"},
      {"spiffe://td//x", "empty path segment"},
      {"spiffe://td/./x", "\".\" or \"..\""},
      {"spiffe://td/x/..", "\".\" or \"..\""},
      {"spiffe://.td/x", "empty label"},
      {"spiffe://td./x", "empty label"},
      {"spiffe://t..d/x", "empty label"},
      {"spiffe://td/a b", "in its path"},
      {"spiffe://td/x\0y"s, "in its path"},
      {"spiffe://td/\xc3\xa9", "in its path"},
      {"https://td/x", "does not start with"},
      {"spiffe:td/x", "does not start with"},
      {"", "does not start with"},
      {"spiffe://" + std::string(256, 'a') + "/x", "too long"},
      {"spiffe://td/" + std::string(2100, 'a'), "over 2048"},
  };
  for (const auto& [id, why] : refused) {
    absl::StatusOr<Principal> p = Principal::SpiffeId(id);
    ASSERT_FALSE(p.ok()) << id;
    EXPECT_NE(std::string(p.status().message()).find(why), std::string::npos)
        << id << ": " << p.status();
  }
}

TEST(PrincipalTest, DnsNamesAreHostNamesLowercased) {
  for (const auto& [name, canonical] : std::vector<std::pair<std::string, std::string>>{
           {"localhost", "localhost"},
           {"History-Service.NS.svc", "history-service.ns.svc"},
           {"LOCALHOST", "localhost"},
           {"1a.example", "1a.example"},
           {"xn--bcher-kva.example", "xn--bcher-kva.example"},
           {std::string(63, 'a') + ".b", std::string(63, 'a') + ".b"}}) {
    absl::StatusOr<Principal> p = Principal::DnsName(name);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status();
    EXPECT_EQ(p->name(), canonical);
    EXPECT_EQ(p->PolicyName(), "dns:" + canonical);
    EXPECT_EQ(p->Display(), "dns:" + canonical);
  }
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"", "empty"},
      {"*.booking.local", "wildcard"},
      {"a.*", "wildcard"},
      {"localhost.", "trailing dot"},
      {"booking.local.", "trailing dot"},
      {".a", "empty label"},
      {"a..b", "empty label"},
      {"-a.b", "'-'"},
      {"a-.b", "'-'"},
      {"a_b.c", "host name holds"},
      {"spiffe://booking.local/booking-service", "host name holds"},
      {"booking.local/booking-service", "host name holds"},
      {"a b", "host name holds"},
      {"local\0host"s, "host name holds"},
      {"127.0.0.1", "IP address"},
      {std::string(64, 'a') + ".b", "over 63"},
      {std::string(250, 'a').replace(60, 1, ".").replace(120, 1, ".").replace(180, 1, ".") +
           ".abcd",
       "over 253"},
  };
  for (const auto& [name, why] : refused) {
    absl::StatusOr<Principal> p = Principal::DnsName(name);
    ASSERT_FALSE(p.ok()) << name;
    EXPECT_NE(std::string(p.status().message()).find(why), std::string::npos)
        << name << ": " << p.status();
  }
}

TEST(PrincipalTest, TokenPrincipalsCannotLookLikeAnotherKind) {
  for (const char* name : {"alice@example.com", "demo-dispatcher", "spiffe", "dnsadmin"}) {
    absl::StatusOr<Principal> p = Principal::Token(name);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status();
    EXPECT_EQ(p->Display(), name);  // changedBy as before
    EXPECT_EQ(p->PolicyName(), std::string("token:") + name);
  }
  for (const char* name :
       {"spiffe://booking.local/booking-service", "SPIFFE://x", "spiffe:x", "dns:localhost",
        "DNS:localhost", "token:alice", "*", "anonymous", "a b", "", "tab\tbed"}) {
    EXPECT_FALSE(Principal::Token(name).ok()) << name;
  }
  // One string, three kinds: never equal, never the same policy name.
  auto token = Principal::Token("booking-service");
  auto dns = Principal::DnsName("booking-service");
  ASSERT_TRUE(token.ok() && dns.ok());
  EXPECT_FALSE(*token == *dns);
  EXPECT_NE(token->PolicyName(), dns->PolicyName());
  EXPECT_NE(token->Display(), dns->Display());
}

TEST(PrincipalTest, PolicyWordsNameTheirKind) {
  EXPECT_EQ(ParsePolicyPrincipal("spiffe://td/x")->kind(), Principal::Kind::kSpiffeId);
  EXPECT_EQ(ParsePolicyPrincipal("dns:Host.Example")->PolicyName(), "dns:host.example");
  EXPECT_EQ(ParsePolicyPrincipal("token:alice")->kind(), Principal::Kind::kToken);
  for (const char* word : {"alice", "uri:spiffe://td/x", "dns:", "dns:*.x", "token:", "token:dns:x",
                           "SPIFFE://td/x", "https://td/x", "DNS:x"}) {
    EXPECT_FALSE(ParsePolicyPrincipal(word).ok()) << word;
  }
}

// A self-signed certificate with these subjectAltName entries (GEN_URI,
// GEN_DNS, GEN_EMAIL: IA5 strings; GEN_IPADD: the bytes), in one extension,
// or each in an extension of its own when `split`.
std::string Certificate(const std::vector<std::pair<int, std::string>>& sans, bool split = false,
                        const std::string& cn = "spiffe://booking.local/booking-service") {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, subject);
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  const auto flush = [&] {
    if (sk_GENERAL_NAME_num(names) > 0) {
      X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_APPEND);
    }
    GENERAL_NAMES_free(names);
    names = sk_GENERAL_NAME_new_null();
  };
  for (const auto& [type, value] : sans) {
    ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
    GENERAL_NAME* name = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(name, type, s);
    sk_GENERAL_NAME_push(names, name);
    if (split) flush();
  }
  flush();
  GENERAL_NAMES_free(names);
  X509_sign(x, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

constexpr char kRelay[] = "spiffe://booking.local/booking-service";
const std::pair<int, std::string> kLocalhost = {GEN_DNS, "localhost"};
const std::pair<int, std::string> kLoopback = {GEN_IPADD, "\x7f\x00\x00\x01"s};

TEST(CertificatePrincipalTest, NamesTheCallerByKind) {
  const auto principal = [](const std::string& pem) {
    absl::StatusOr<std::optional<Principal>> p = CertificatePrincipal(pem);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() && p->has_value() ? (*p)->PolicyName() : std::string("(none)");
  };
  EXPECT_EQ(principal(Certificate({{GEN_URI, kRelay}})), kRelay);
  // A SPIFFE ID is the identity; DNS and IP SANs beside it name the server.
  EXPECT_EQ(principal(Certificate({kLocalhost, kLoopback, {GEN_URI, kRelay}})), kRelay);
  EXPECT_EQ(principal(Certificate({{GEN_DNS, "History-Service"}, kLocalhost})),
            "dns:history-service");
  EXPECT_EQ(principal(Certificate({{GEN_URI, "spiffe://booking.local/Booking-Service"}})),
            "spiffe://booking.local/Booking-Service");  // a path is case-sensitive: another ID
  // The subject never names anyone: CN only, or only SANs that name no caller.
  EXPECT_EQ(principal(Certificate({})), "(none)");
  EXPECT_EQ(principal(Certificate({kLoopback, {GEN_EMAIL, "relay@booking.local"}})), "(none)");
}

TEST(CertificatePrincipalTest, RefusesAmbiguousCertificates) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {Certificate({{GEN_DNS, kRelay}}), "not a host name"},
      {Certificate({{GEN_URI, "spiffe://booking.local/intruder"}, {GEN_DNS, kRelay}}),
       "not a host name"},
      {Certificate({{GEN_URI, kRelay}, {GEN_URI, "spiffe://booking.local/auditor"}}), "2 URI SANs"},
      {Certificate({{GEN_URI, kRelay}, {GEN_URI, kRelay}}), "2 URI SANs"},
      {Certificate({{GEN_DNS, "*.booking.local"}}), "wildcard"},
      {Certificate({{GEN_URI, kRelay}, {GEN_DNS, "*.booking.local"}}), "wildcard"},
      {Certificate({{GEN_DNS, "localhost."}}), "trailing dot"},
      {Certificate({{GEN_URI, "spiffe://booking.local/booking-service/"}}), "ends with '/'"},
      {Certificate({{GEN_URI, "spiffe://BOOKING.LOCAL/booking-service"}}), "upper-case"},
      {Certificate({{GEN_URI, "SPIFFE://booking.local/booking-service"}}), "upper-case"},
      {Certificate({{GEN_URI, "spiffe://booking.local/booking%2Dservice"}}), "percent"},
      {Certificate({{GEN_URI, "https://booking.local/booking-service"}}), "not a SPIFFE ID"},
      {Certificate({{GEN_URI, "spiffe://booking.local/booking-service\0x"s}}), "in its path"},
      {Certificate({{GEN_DNS, "localhost\0.evil.example"s}}), "not a host name"},
      {Certificate({{GEN_URI, kRelay}, kLocalhost}, /*split=*/true),
       "more than one subjectAltName"},
      {"-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n", "cannot be read"},
  };
  for (const auto& [pem, why] : refused) {
    absl::StatusOr<std::optional<Principal>> p = CertificatePrincipal(pem);
    ASSERT_FALSE(p.ok()) << why << ": got " << (p->has_value() ? (*p)->PolicyName() : "none");
    EXPECT_NE(std::string(p.status().message()).find(why), std::string::npos) << p.status();
  }
}

}  // namespace
}  // namespace booking
