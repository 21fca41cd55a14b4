// Signed checkpoints of the history store: the row count and a Merkle root
// over every booking's head, signed with Ed25519 (libsodium). Each
// checkpoint keeps the heads that changed since the one before
// ("HistoryCheckpointHead"), so any checkpoint's full head list (and a
// booking's audit path) can be rebuilt and checked against its signed root.
#ifndef HISTORY_SERVICE_CHECKPOINT_H_
#define HISTORY_SERVICE_CHECKPOINT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "history-service/merkle.h"
#include "history/v1/history.pb.h"

namespace booking {

struct SigningKey {
  std::string secret;      // libsodium's 64-byte Ed25519 secret key
  std::string public_key;  // 32 bytes
};

// A key file holds the 32-byte seed in hex (history-verify keygen writes one;
// so does `openssl rand -hex 32`).
absl::StatusOr<SigningKey> LoadSigningKey(const std::string& path);
// A public key file holds the 32-byte key in hex.
absl::StatusOr<std::string> LoadPublicKey(const std::string& path);
// Writes a new seed to `path` (mode 0600) and its public key to `path`.pub.
absl::Status WriteKeyPair(const std::string& path);

// What is signed: "bsh-checkpoint-v1 <row_count> <booking_count> <root hex>
// <signed_at_micros>".
std::string SignedMessage(const history::v1::Checkpoint& c);
bool SignatureValid(const history::v1::Checkpoint& c, const std::string& public_key);
// A checkpoint as one line of text (a trusted copy kept outside the store):
// the signed message, then the signature in hex.
std::string CheckpointLine(const history::v1::Checkpoint& c);
absl::StatusOr<history::v1::Checkpoint> ParseCheckpointLine(const std::string& line);

// Every booking's head now, sorted by booking id bytes, and the row count,
// read in one statement (one snapshot).
struct StoreHeads {
  std::vector<Head> heads;
  int64_t row_count = 0;
};
StoreHeads ReadStoreHeads(pqxx::transaction_base& txn);

// Signs and keeps a checkpoint of the store as it is; none (nullopt) when
// nothing changed since the newest one.
std::optional<history::v1::Checkpoint> SignCheckpoint(pqxx::transaction_base& txn,
                                                      const SigningKey& key);
std::optional<history::v1::Checkpoint> NewestCheckpoint(pqxx::transaction_base& txn);
// The newest checkpoint and `booking_id`'s heads as of it (one per
// checkpoint that kept one, oldest first), read by one statement (one
// snapshot: never a head of a checkpoint signed after the one read), for a
// caller that sends it in one message with its other reads (VerifyBooking).
struct CheckpointWithHeads {
  std::optional<history::v1::Checkpoint> checkpoint;  // none before the first
  std::vector<Head> heads;
};
std::string NewestCheckpointWithHeadsQuery(pqxx::transaction_base& txn,
                                           const std::string& booking_id);
CheckpointWithHeads ReadCheckpointWithHeads(const pqxx::result& r, const std::string& booking_id);
// The checkpoint signed at `signed_at_micros` as the store keeps it.
std::optional<history::v1::Checkpoint> CheckpointSignedAt(pqxx::transaction_base& txn,
                                                          int64_t signed_at_micros);
// The heads as of checkpoint `id`, sorted by booking id bytes.
std::vector<Head> CheckpointHeads(pqxx::transaction_base& txn, int64_t id);

std::vector<std::string> Leaves(const std::vector<Head>& heads);

}  // namespace booking

#endif  // HISTORY_SERVICE_CHECKPOINT_H_
