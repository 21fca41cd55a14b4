#include "history-service/page_token.h"

#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace booking {
namespace {

constexpr size_t kMacBytes = crypto_auth_hmacsha256_BYTES;

// HMAC-SHA256(key, purpose NUL payload): the purpose cannot run into the
// payload, so no token of one purpose is valid for another.
std::string Mac(const std::string& key, absl::string_view purpose, absl::string_view payload) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  const auto update = [&state](absl::string_view part) {
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                                  part.size());
  };
  update(purpose);
  update(absl::string_view("\0", 1));
  update(payload);
  std::string mac(kMacBytes, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(mac.data()));
  return mac;
}

ABSL_CONST_INIT absl::Mutex installed_mu(absl::kConstInit);
std::shared_ptr<const TokenKeys>& Installed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(installed_mu) {
  static auto* keys =
      new std::shared_ptr<const TokenKeys>(std::make_shared<const TokenKeys>(TokenKeys::Random()));
  return *keys;
}

std::shared_ptr<const TokenKeys> Current() {
  absl::MutexLock lock(&installed_mu);
  return Installed();
}

}  // namespace

absl::StatusOr<TokenKeys> TokenKeys::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::InvalidArgumentError(absl::StrCat("--page-token-key: cannot read \"", path, "\""));
  }
  std::vector<std::string> keys;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line[0] != '#') keys.emplace_back(line);
  }
  absl::StatusOr<TokenKeys> out = FromKeys(std::move(keys));
  if (!out.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--page-token-key \"", path, "\": ", out.status().message()));
  }
  return out;
}

TokenKeys TokenKeys::Random() {
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe to do
  std::string key(kMinKeyBytes, '\0');
  randombytes_buf(key.data(), key.size());
  return TokenKeys({std::move(key)});
}

absl::StatusOr<TokenKeys> TokenKeys::FromKeys(std::vector<std::string> keys) {
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "holds no key; write one line of at least 32 random bytes, e.g. `openssl rand -base64 48`");
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].size() < kMinKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat("key ", i + 1, " is ", keys[i].size(),
                                                     " bytes; each must be at least ", kMinKeyBytes,
                                                     " (e.g. `openssl rand -base64 48`)"));
    }
  }
  return TokenKeys(std::move(keys));
}

std::string TokenKeys::Seal(absl::string_view purpose, absl::string_view payload) const {
  return absl::WebSafeBase64Escape(absl::StrCat(payload, Mac(keys_.front(), purpose, payload)));
}

std::optional<std::string> TokenKeys::Open(absl::string_view purpose,
                                           absl::string_view token) const {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < kMacBytes) return std::nullopt;
  // Only the canonical spelling: one token, one text.
  if (absl::WebSafeBase64Escape(raw) != token) return std::nullopt;
  const absl::string_view payload = absl::string_view(raw).substr(0, raw.size() - kMacBytes);
  const absl::string_view mac = absl::string_view(raw).substr(raw.size() - kMacBytes);
  for (const std::string& key : keys_) {
    const std::string want = Mac(key, purpose, payload);
    if (sodium_memcmp(want.data(), mac.data(), kMacBytes) == 0) return std::string(payload);
  }
  return std::nullopt;
}

void InstallTokenKeys(TokenKeys keys) {
  auto next = std::make_shared<const TokenKeys>(std::move(keys));
  absl::MutexLock lock(&installed_mu);
  Installed() = std::move(next);
}

std::string SealToken(absl::string_view purpose, absl::string_view payload) {
  return Current()->Seal(purpose, payload);
}

std::optional<std::string> OpenToken(absl::string_view purpose, absl::string_view token) {
  return Current()->Open(purpose, token);
}

}  // namespace booking
