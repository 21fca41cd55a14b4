#include "common/tlog/note_key.h"

#include <sodium.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tlog/encoding.h"

namespace booking::tlog {
namespace {

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::Status Started() {
  if (sodium_init() < 0) return absl::InternalError("libsodium cannot start");
  return absl::OkStatus();
}

// "<hex key ID>+<base64(0x01 || 32 bytes)>" after the name: the 32 bytes, or
// an error naming `what` (a verifier key or a private key).
absl::StatusOr<std::string> KeyMaterial(absl::string_view hex_id, absl::string_view b64,
                                        absl::string_view what, uint32_t* key_id) {
  const std::optional<uint32_t> id = ParseHex32(hex_id);
  if (!id) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key ID of a ", what, " is 8 lowercase hex digits, not \"", hex_id, "\""));
  }
  *key_id = *id;
  const std::optional<std::string> key = Base64DecodeStrict(b64);
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key of a ", what, " is not canonical standard base64"));
  }
  if (key->size() != 33 || static_cast<uint8_t>((*key)[0]) != kEd25519SignatureType) {
    return absl::InvalidArgumentError(absl::StrCat("the key of a ", what,
                                                   " must be 0x01 (Ed25519) and 32 bytes; ",
                                                   "other signature types are not supported"));
  }
  return key->substr(1);
}

}  // namespace

absl::Status CheckKeyName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxKeyNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a key name has 1 to ", kMaxKeyNameBytes, " bytes, not ", name.size()));
  }
  if (!IsKeyNameText(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key name \"", name, "\" must be UTF-8 with no spaces, no control characters and no '+'"));
  }
  return absl::OkStatus();
}

uint32_t Ed25519KeyId(absl::string_view name, absl::string_view public_key) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, U(name), name.size());
  const unsigned char separator[2] = {'\n', kEd25519SignatureType};
  crypto_hash_sha256_update(&state, separator, 2);
  crypto_hash_sha256_update(&state, U(public_key), public_key.size());
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) | (uint32_t{digest[2]} << 8) |
         uint32_t{digest[3]};
}

NoteVerifier::NoteVerifier(std::string name, std::string public_key)
    : name_(std::move(name)),
      key_id_(Ed25519KeyId(name_, public_key)),
      public_key_(std::move(public_key)) {}

absl::StatusOr<NoteVerifier> NoteVerifier::FromPublicKey(absl::string_view name,
                                                         absl::string_view public_key) {
  if (absl::Status s = CheckKeyName(name); !s.ok()) return s;
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 public key is 32 bytes, not ", public_key.size()));
  }
  return NoteVerifier(std::string(name), std::string(public_key));
}

absl::StatusOr<NoteVerifier> NoteVerifier::Parse(absl::string_view vkey) {
  const std::vector<absl::string_view> parts = absl::StrSplit(vkey, absl::MaxSplits('+', 2));
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "a verifier key is \"<name>+<hex key ID>+<base64 key>\" (three parts joined by '+')");
  }
  uint32_t key_id = 0;
  absl::StatusOr<std::string> key = KeyMaterial(parts[1], parts[2], "verifier key", &key_id);
  if (!key.ok()) return key.status();
  absl::StatusOr<NoteVerifier> verifier = FromPublicKey(parts[0], *key);
  if (!verifier.ok()) return verifier.status();
  if (verifier->key_id() != key_id) {
    return absl::InvalidArgumentError(absl::StrCat("verifier key ", parts[0], "+", parts[1],
                                                   ": the key ID does not match the key (",
                                                   Hex32(verifier->key_id()), ")"));
  }
  return verifier;
}

std::string NoteVerifier::VerifierKey() const {
  return absl::StrCat(
      name_, "+", Hex32(key_id_), "+",
      Base64Encode(absl::StrCat(std::string(1, kEd25519SignatureType), public_key_)));
}

bool NoteVerifier::Verify(absl::string_view message, absl::string_view signature) const {
  if (!Started().ok() || signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(U(signature), U(message), message.size(), U(public_key_)) == 0;
}

NoteSigner::NoteSigner(NoteVerifier verifier, const std::array<uint8_t, 64>& secret)
    : verifier_(std::move(verifier)), secret_(secret) {}

NoteSigner::~NoteSigner() { sodium_memzero(secret_.data(), secret_.size()); }

absl::StatusOr<NoteSigner> NoteSigner::FromSeed(absl::string_view name, absl::string_view seed) {
  if (absl::Status s = Started(); !s.ok()) return s;
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 seed is 32 bytes, not ", seed.size()));
  }
  std::array<uint8_t, 64> secret;
  std::string public_key(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(public_key.data()), secret.data(),
                           U(seed));
  absl::StatusOr<NoteVerifier> verifier = NoteVerifier::FromPublicKey(name, public_key);
  if (!verifier.ok()) return verifier.status();
  NoteSigner signer(*std::move(verifier), secret);
  sodium_memzero(secret.data(), secret.size());
  return signer;
}

absl::StatusOr<NoteSigner> NoteSigner::ParsePrivateKey(absl::string_view skey) {
  const std::vector<absl::string_view> parts = absl::StrSplit(skey, absl::MaxSplits('+', 4));
  if (parts.size() != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY") {
    return absl::InvalidArgumentError(
        "a private key is \"PRIVATE+KEY+<name>+<hex key ID>+<base64 seed>\"");
  }
  uint32_t key_id = 0;
  absl::StatusOr<std::string> seed = KeyMaterial(parts[3], parts[4], "private key", &key_id);
  if (!seed.ok()) return seed.status();
  absl::StatusOr<NoteSigner> signer = FromSeed(parts[2], *seed);
  sodium_memzero(seed->data(), seed->size());
  if (!signer.ok()) return signer.status();
  if (signer->key_id() != key_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        "private key ", parts[2], ": the key ID does not match the key the seed makes"));
  }
  return signer;
}

absl::StatusOr<NoteSigner> NoteSigner::Generate(absl::string_view name) {
  if (absl::Status s = Started(); !s.ok()) return s;
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  randombytes_buf(seed.data(), seed.size());
  absl::StatusOr<NoteSigner> signer = FromSeed(name, seed);
  sodium_memzero(seed.data(), seed.size());
  return signer;
}

std::string NoteSigner::PrivateKey() const {
  // libsodium's secret key starts with the seed.
  const std::string seed(reinterpret_cast<const char*>(secret_.data()), crypto_sign_SEEDBYTES);
  return absl::StrCat("PRIVATE+KEY+", name(), "+", Hex32(key_id()), "+",
                      Base64Encode(absl::StrCat(std::string(1, kEd25519SignatureType), seed)));
}

std::string NoteSigner::Sign(absl::string_view message) const {
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr, U(message),
                       message.size(), secret_.data());
  return signature;
}

}  // namespace booking::tlog
