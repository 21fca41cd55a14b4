// Tokens history-service hands to callers and takes back (ListHistory and
// GetBookingHistory page tokens, WatchHistory resume tokens): base64url of
// a payload followed by its HMAC-SHA256 under a per-deployment key, so that
// a token a caller built, altered or truncated is refused before anything
// in it is used. Each kind of token is a separate `purpose`, part of what
// is authenticated: one method's token is never another's.
//
// Keys come from --page-token-key FILE (env HISTORY_PAGE_TOKEN_KEY): each
// non-empty line not starting with '#' one key of at least 32 bytes; the
// first signs, every one verifies (rotation: add the new key as a second
// line everywhere, then move it first, then drop the old one). Without a
// file a random key is made at start: tokens then hold only for that
// process, neither across a restart nor across replicas.
#ifndef HISTORY_SERVICE_PAGE_TOKEN_H_
#define HISTORY_SERVICE_PAGE_TOKEN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

// Immutable once built: thread-safe.
class TokenKeys {
 public:
  static constexpr size_t kMinKeyBytes = 32;

  // INVALID_ARGUMENT naming the file when it cannot be read, holds no key,
  // or a key shorter than kMinKeyBytes.
  static absl::StatusOr<TokenKeys> FromFile(const std::string& path);
  // One random key (libsodium's randombytes).
  static TokenKeys Random();
  // For tests: these keys, the first signing.
  static absl::StatusOr<TokenKeys> FromKeys(std::vector<std::string> keys);

  std::string Seal(absl::string_view purpose, absl::string_view payload) const;
  // The payload, or nullopt when `token` is not one Seal made for `purpose`
  // with one of these keys.
  std::optional<std::string> Open(absl::string_view purpose, absl::string_view token) const;

 private:
  explicit TokenKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  std::vector<std::string> keys_;  // never empty
};

// The process's keys: installed once at start (main), before serving; a
// random key until then. Thread-safe.
void InstallTokenKeys(TokenKeys keys);
std::string SealToken(absl::string_view purpose, absl::string_view payload);
std::optional<std::string> OpenToken(absl::string_view purpose, absl::string_view token);

}  // namespace booking

#endif  // HISTORY_SERVICE_PAGE_TOKEN_H_
