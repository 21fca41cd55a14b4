#include "common/identity.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

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
    if (parts[1].size() < kMinTokenBytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the token of ", parts[0], " is ",
                                                     parts[1].size(), " bytes; at least ",
                                                     kMinTokenBytes, " are required"));
    }
    if (!seen.insert(parts[1]).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "this token is given twice"));
    }
    table.entries_.push_back({Sha256(parts[1]), parts[0]});
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no tokens"));
  }
  return table;
}

std::optional<std::string> TokenTable::PrincipalOf(absl::string_view token) const {
  const std::array<unsigned char, 32> digest = Sha256(token);
  std::optional<std::string> found;
  // Every entry is compared, also after a match.
  for (const Entry& e : entries_) {
    if (CRYPTO_memcmp(digest.data(), e.token_sha256.data(), digest.size()) == 0) {
      found = e.principal;
    }
  }
  return found;
}

std::string CertificatePrincipal(const grpc::AuthContext& auth) {
  if (!auth.IsPeerAuthenticated()) return "";
  for (const char* property : {GRPC_PEER_URI_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME}) {
    std::vector<grpc::string_ref> values = auth.FindPropertyValues(property);
    if (!values.empty()) return std::string(values.front().data(), values.front().size());
  }
  return "";
}

}  // namespace booking
