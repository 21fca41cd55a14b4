// Ed25519 keys of C2SP signed notes (https://c2sp.org/signed-note): a key is
// named, and identified by its name and a 4-byte key ID,
//   key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4].
// Verifier keys ("vkeys") are written "<name>+<hex key ID>+<base64(0x01 ||
// public key)>"; private keys as golang.org/x/mod/sumdb/note writes them,
// "PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>".
// Parsing is strict: anything else is kInvalidArgument, naming what is wrong.
// Signing and verifying use libsodium (crypto_sign_detached, RFC 8032).
// Thread safety: both classes are immutable values; every method is const
// and may run concurrently.
#ifndef BOOKING_COMMON_TLOG_NOTE_KEY_H_
#define BOOKING_COMMON_TLOG_NOTE_KEY_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking::tlog {

inline constexpr size_t kMaxKeyNameBytes = 256;
inline constexpr uint8_t kEd25519SignatureType = 0x01;

// OK when `name` can name a key: 1 to kMaxKeyNameBytes bytes of UTF-8 with no
// Unicode space and no '+'.
absl::Status CheckKeyName(absl::string_view name);
// The key ID of the Ed25519 key `public_key` (32 bytes) named `name`.
uint32_t Ed25519KeyId(absl::string_view name, absl::string_view public_key);

class NoteVerifier {
 public:
  // A vkey, "<name>+<8 lowercase hex digits>+<base64(0x01 || 32-byte key)>".
  static absl::StatusOr<NoteVerifier> Parse(absl::string_view vkey);
  static absl::StatusOr<NoteVerifier> FromPublicKey(absl::string_view name,
                                                    absl::string_view public_key);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  const std::string& public_key() const { return public_key_; }
  // The vkey text.
  std::string VerifierKey() const;
  // Whether `signature` (64 bytes, no key ID) signs `message` with this key.
  bool Verify(absl::string_view message, absl::string_view signature) const;

 private:
  NoteVerifier(std::string name, std::string public_key);
  std::string name_;
  uint32_t key_id_ = 0;
  std::string public_key_;
};

class NoteSigner {
 public:
  // The key of the 32-byte Ed25519 seed `seed`.
  static absl::StatusOr<NoteSigner> FromSeed(absl::string_view name, absl::string_view seed);
  // "PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>"; the key ID must
  // be the one of the key the seed makes.
  static absl::StatusOr<NoteSigner> ParsePrivateKey(absl::string_view skey);
  // A new random key.
  static absl::StatusOr<NoteSigner> Generate(absl::string_view name);

  NoteSigner(const NoteSigner&) = default;
  NoteSigner& operator=(const NoteSigner&) = default;
  NoteSigner(NoteSigner&&) = default;
  NoteSigner& operator=(NoteSigner&&) = default;
  ~NoteSigner();  // wipes the secret key

  const std::string& name() const { return verifier_.name(); }
  uint32_t key_id() const { return verifier_.key_id(); }
  const NoteVerifier& verifier() const { return verifier_; }
  // The private key text (keep it secret).
  std::string PrivateKey() const;
  // The 64-byte Ed25519 signature of `message`.
  std::string Sign(absl::string_view message) const;

 private:
  NoteSigner(NoteVerifier verifier, const std::array<uint8_t, 64>& secret);
  NoteVerifier verifier_;
  std::array<uint8_t, 64> secret_;  // libsodium's form: seed || public key
};

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_NOTE_KEY_H_
