#include "common/identity.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace booking {
namespace {

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

}  // namespace

absl::StatusOr<TokenTable> TokenTable::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read tokens file ", path));
  TokenTable table;
  absl::flat_hash_set<std::string> seen;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || absl::StartsWith(text, "#")) continue;
    std::vector<std::string> parts = absl::StrSplit(text, ' ', absl::SkipWhitespace());
    const std::string where = absl::StrCat(path, ":", line_no, ": ");
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(where, "expected \"principal token\""));
    }
    absl::StatusOr<Principal> principal = Principal::Token(parts[0]);
    if (!principal.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, principal.status().message()));
    if (parts[1].size() < kMinTokenBytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the token of ", parts[0], " is ",
                                                     parts[1].size(), " bytes; at least ",
                                                     kMinTokenBytes, " are required"));
    }
    if (!seen.insert(parts[1]).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "this token is given twice"));
    }
    table.entries_.push_back({Sha256(parts[1]), *std::move(principal)});
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no tokens"));
  }
  return table;
}

std::optional<Principal> TokenTable::PrincipalOf(absl::string_view token) const {
  const std::array<unsigned char, 32> digest = Sha256(token);
  std::optional<Principal> found;
  // Every entry is compared, also after a match.
  for (const Entry& e : entries_) {
    if (CRYPTO_memcmp(digest.data(), e.token_sha256.data(), digest.size()) == 0) {
      found = e.principal;
    }
  }
  return found;
}

namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct NamesDeleter {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

absl::Status Ambiguous(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("the client certificate ", why));
}

absl::string_view View(const ASN1_IA5STRING* s) {
  return absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
}

// The certificate's URI and DNS SANs, in order; other kinds are skipped.
absl::Status ReadSans(X509* cert, std::vector<std::string>& uris, std::vector<std::string>& dns) {
  int found = 0;
  std::unique_ptr<GENERAL_NAMES, NamesDeleter> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &found, nullptr)));
  if (names == nullptr) {
    if (found == -1) return absl::OkStatus();  // no subjectAltName
    return Ambiguous(found == -2 ? "has more than one subjectAltName extension"
                                 : "has a subjectAltName extension that cannot be read");
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_URI) uris.emplace_back(View(name->d.uniformResourceIdentifier));
    if (name->type == GEN_DNS) dns.emplace_back(View(name->d.dNSName));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<Principal>> CertificatePrincipal(absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<X509, X509Deleter> cert(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return Ambiguous("cannot be read");
  std::vector<std::string> uris, dns;
  if (absl::Status s = ReadSans(cert.get(), uris, dns); !s.ok()) return s;
  if (uris.size() > 1) {
    return Ambiguous(absl::StrCat("has ", uris.size(), " URI SANs: one identity, one URI SAN"));
  }
  // Every DNS SAN is checked, also beside a SPIFFE ID: none may be confusable.
  std::optional<Principal> first_dns;
  for (const std::string& name : dns) {
    absl::StatusOr<Principal> p = Principal::DnsName(name);
    if (!p.ok())
      return Ambiguous(
          absl::StrCat("has a DNS SAN that is not a host name: ", p.status().message()));
    if (!first_dns.has_value()) first_dns = *std::move(p);
  }
  if (uris.empty()) return first_dns;
  absl::StatusOr<Principal> spiffe = Principal::SpiffeId(uris.front());
  if (!spiffe.ok()) {
    return Ambiguous(
        absl::StrCat("has a URI SAN that is not a SPIFFE ID: ", spiffe.status().message()));
  }
  return std::optional<Principal>(*std::move(spiffe));
}

absl::StatusOr<std::optional<Principal>> CertificatePrincipal(const grpc::AuthContext& auth) {
  // Present only when the peer sent a certificate, which our servers then
  // require and verify (common/tls.h).
  std::vector<grpc::string_ref> pem = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) return std::optional<Principal>();
  return CertificatePrincipal(absl::string_view(pem.front().data(), pem.front().size()));
}

}  // namespace booking
