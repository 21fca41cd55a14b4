// Merkle tree hashing and proofs for the audit trail's transparency log.
//
// What this library guarantees (design note for issue 22):
// - Hashing is RFC 9162 (Certificate Transparency v2) section 2.1 with
//   SHA-256: leaf hash = SHA-256(0x00 || data), node hash =
//   SHA-256(0x01 || left || right), the root of the empty tree =
//   SHA-256(""). The same tree as RFC 6962 and as C2SP tlog-checkpoint's
//   "root hash" line, so checkpoints and proofs interoperate with
//   transparency-dev/merkle and golang.org/x/mod/sumdb/tlog.
// - Proof generation is the RFC's PATH (2.1.3.1) and PROOF/SUBPROOF
//   (2.1.4.1), returned either as hashes or as the leaf ranges whose
//   subtree roots make up the proof (a store can serve those from hashes it
//   kept, without reading every leaf).
// - Verification is the RFC's algorithms (2.1.3.2, 2.1.4.2), after checking
//   the proof has exactly the number of hashes its sizes call for. Default
//   deny: anything that is not a proof for these sizes is refused.
// - CompactRange keeps the right edge of the tree (one hash per set bit of
//   the size, O(log n)) and gives the root after each append without the
//   old leaves (the "compact range" of transparency-dev/merkle).
//
// Errors (absl::Status, never exceptions):
//   kInvalidArgument  the input cannot be a proof for these sizes (index >=
//                     size, size 0, old size > new size, wrong hash count,
//                     a hash not 32 bytes);
//   kDataLoss         a well-formed proof whose hashes do not lead to the
//                     root(s): the data or the proof was altered.
// Thread safety: the free functions are pure and may be called from any
// thread. CompactRange is a value type: const methods may run concurrently,
// Append needs external synchronization.
#ifndef BOOKING_COMMON_TLOG_MERKLE_H_
#define BOOKING_COMMON_TLOG_MERKLE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace booking::tlog {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// SHA-256("").
Hash EmptyRoot();
// SHA-256(0x00 || data).
Hash LeafHash(absl::string_view data);
// SHA-256(0x01 || left || right).
Hash NodeHash(const Hash& left, const Hash& right);

// The 32 raw bytes `bytes` as a Hash; kInvalidArgument for any other length.
absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes);
// The 32 raw bytes of `hash`.
std::string HashToBytes(const Hash& hash);
// Lowercase hex, for messages and logs.
std::string HashToHex(const Hash& hash);

// MTH(D[n]) of RFC 9162 2.1.1 over the leaf hashes `leaves`.
Hash RootOf(absl::Span<const Hash> leaves);

// The leaves [begin, end) whose subtree root is one hash of a proof.
struct LeafRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const LeafRange& o) const { return begin == o.begin && end == o.end; }
};

// PATH(index, D[size]) as ranges, bottom up; kInvalidArgument when
// index >= size.
absl::StatusOr<std::vector<LeafRange>> InclusionProofRanges(uint64_t index, uint64_t size);
// PROOF(old_size, D[new_size]) as ranges; empty when the sizes are equal;
// kInvalidArgument when old_size is 0 (nothing to prove) or > new_size.
absl::StatusOr<std::vector<LeafRange>> ConsistencyProofRanges(uint64_t old_size, uint64_t new_size);
// The perfect subtrees a tree of `size` leaves is made of, one per set bit of
// size, the largest (leftmost) first: a CompactRange's nodes.
std::vector<LeafRange> CompactRangeRanges(uint64_t size);

// The same proofs as hashes over the tree of `leaves` (leaf hashes).
absl::StatusOr<std::vector<Hash>> InclusionProof(absl::Span<const Hash> leaves, uint64_t index);
absl::StatusOr<std::vector<Hash>> ConsistencyProof(absl::Span<const Hash> leaves,
                                                   uint64_t old_size);

// How many hashes a proof for these sizes has (the same preconditions).
absl::StatusOr<size_t> InclusionProofLength(uint64_t index, uint64_t size);
absl::StatusOr<size_t> ConsistencyProofLength(uint64_t old_size, uint64_t new_size);

// OK when `proof` proves the leaf hash `leaf` is at `index` of the tree of
// `size` leaves whose root is `root` (RFC 9162 2.1.3.2).
absl::Status VerifyInclusion(const Hash& leaf, uint64_t index, uint64_t size,
                             absl::Span<const Hash> proof, const Hash& root);
// OK when `proof` proves the tree of `old_size` leaves with root `old_root`
// is a prefix of the tree of `new_size` leaves with root `new_root` (RFC 9162
// 2.1.4.2). Equal sizes need an empty proof and equal roots.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, absl::Span<const Hash> proof);

// The right edge of a tree: the roots of its perfect subtrees, largest
// (leftmost) first, one per set bit of size(). Appending a leaf hash merges
// the equal-sized subtrees at the end, so the state stays O(log n) and the
// root never needs the old leaves.
class CompactRange {
 public:
  // The empty tree.
  CompactRange() = default;
  // A range kept earlier (size() and nodes()); kInvalidArgument unless
  // `nodes` has one hash per set bit of `size`.
  static absl::StatusOr<CompactRange> Restore(uint64_t size, std::vector<Hash> nodes);

  // Appends one leaf hash; kOutOfRange once the size would pass 2^64 - 1.
  absl::Status Append(const Hash& leaf);

  uint64_t size() const { return size_; }
  const std::vector<Hash>& nodes() const { return nodes_; }
  // MTH of the leaves appended so far (EmptyRoot() for none).
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> nodes_;
};

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_MERKLE_H_
