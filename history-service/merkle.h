// The Merkle tree of a checkpoint (RFC 6962 shape, SHA-256): one leaf per
// booking, its head (last row) at the checkpoint, in booking id byte order.
// A client proves one booking's head is in a signed root with log2(n) hashes.
// The tree's hashing and proofs are common/tlog's (RFC 9162); this file
// names the leaves and keeps the byte-string form the checkpoint uses.
#ifndef HISTORY_SERVICE_MERKLE_H_
#define HISTORY_SERVICE_MERKLE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace booking {

struct Head {
  std::string booking_id;
  int64_t sequence = 0;
  std::string row_hash;
};

// SHA-256(0x00 || "v<len>:<booking_id>" || "v<len>:<sequence>" || row_hash).
std::string LeafHash(const Head& head);
// The root over `leaves` (SHA-256 of nothing for none); "" if a leaf is not
// 32 bytes.
std::string MerkleRoot(const std::vector<std::string>& leaves);
// The audit path of leaves[index], bottom up (none for an index out of range
// or a leaf not 32 bytes).
std::vector<std::string> AuditPath(const std::vector<std::string>& leaves, size_t index);
// Whether `leaf` at `index` of a tree of `size` leaves has root `root` by `path`.
bool VerifyAuditPath(const std::string& leaf, uint64_t index, uint64_t size,
                     const std::vector<std::string>& path, const std::string& root);

}  // namespace booking

#endif  // HISTORY_SERVICE_MERKLE_H_
