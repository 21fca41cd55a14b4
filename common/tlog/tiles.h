// The Merkle tree kept as tiles, as C2SP tlog-tiles lays them out
// (https://c2sp.org/tlog-tiles): tile (level L, index N) holds up to 256
// hashes; its i-th hash is the root of the perfect subtree of 2^(8L) leaves
// that starts at leaf (N * 256 + i) * 2^(8L). Level 0 holds the leaf hashes.
// A tile is full at 256 hashes and never changes after; the last tile of a
// level is partial while the tree grows and only ever grows (append only).
//
// What a store keeps is then: the tiles, and the tree's size. Appending n
// leaves touches the partial tile of each level and the tiles it fills
// (O(n + log size) hashes, never an old leaf); the root and any subtree hash
// a proof needs come from O(log size) tiles.
//
// Errors: kInvalidArgument for a tile that cannot belong to a tree of the
// size given (a hash not 32 bytes, a partial tile of the wrong width);
// kDataLoss from a TileSource that lacks a tile the size says exists.
// Thread safety: TileAppender is a value type (const methods concurrent,
// Append externally synchronized); the free functions are pure.
#ifndef BOOKING_COMMON_TLOG_TILES_H_
#define BOOKING_COMMON_TLOG_TILES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/tlog/merkle.h"

namespace booking::tlog {

inline constexpr int kTileHeight = 8;
inline constexpr uint64_t kTileWidth = 256;

struct TileKey {
  int level = 0;
  uint64_t index = 0;
  bool operator<(const TileKey& o) const {
    return level != o.level ? level < o.level : index < o.index;
  }
  bool operator==(const TileKey& o) const { return level == o.level && index == o.index; }
};

// A tile's hashes, 32 bytes each, concatenated.
using TileBytes = std::string;

// How many hashes tile `key` holds in a tree of `size` leaves (0: it does
// not exist yet).
uint64_t TileWidth(const TileKey& key, uint64_t size);
// The partial tiles of a tree of `size` leaves: the last tile of each level
// whose width is not a multiple of 256, lowest level first.
std::vector<std::pair<TileKey, uint64_t>> PartialTiles(uint64_t size);

// Gives the stored bytes of a tile (at least as wide as the tree of the size
// asked about needs; a longer tile is a later state of the same tile).
using TileSource = std::function<absl::StatusOr<TileBytes>(const TileKey&)>;

// MTH of the leaves [begin, end) of a tree of `size` leaves, from its tiles;
// kInvalidArgument unless begin < end <= size.
absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end, uint64_t size,
                               const TileSource& tiles);
// The tree's root (EmptyRoot() for size 0).
absl::StatusOr<Hash> TreeRoot(uint64_t size, const TileSource& tiles);
// Inclusion and consistency proofs (RFC 9162) from the tiles.
absl::StatusOr<std::vector<Hash>> TileInclusionProof(uint64_t index, uint64_t size,
                                                     const TileSource& tiles);
absl::StatusOr<std::vector<Hash>> TileConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                       const TileSource& tiles);
// The inclusion proofs of several leaves of one tree (each as
// TileInclusionProof gives it), a range the proofs share hashed once: the
// leaves of one booking share the ranges above them, and leaves of one tile
// their larger siblings.
absl::StatusOr<std::vector<std::vector<Hash>>> TileInclusionProofs(
    absl::Span<const uint64_t> indexes, uint64_t size, const TileSource& tiles);
// The nodes of the CompactRange of the tree's first `size` leaves
// (CompactRangeRanges), from the tiles of a tree of at least `size` leaves.
absl::StatusOr<std::vector<Hash>> TileCompactRange(uint64_t size, const TileSource& tiles);
// The tiles the calls above read for these arguments (to fetch them in one
// query first).
std::vector<TileKey> InclusionProofTiles(uint64_t index, uint64_t size);
std::vector<TileKey> ConsistencyProofTiles(uint64_t old_size, uint64_t new_size);
std::vector<TileKey> RootTiles(uint64_t size);
std::vector<TileKey> CompactRangeTiles(uint64_t size);

// Appends leaves to a tree kept as tiles: restored from the tree's size and
// its partial tiles, it gives the tiles each append changed (full ones and
// the new partial ones) and the new root, without any other tile.
class TileAppender {
 public:
  // `partial`: the stored bytes of each tile PartialTiles(size) names (a
  // longer stored tile is cut to the width the size gives).
  static absl::StatusOr<TileAppender> Restore(uint64_t size,
                                              const std::map<TileKey, TileBytes>& partial);

  void Append(const Hash& leaf);

  uint64_t size() const { return size_; }
  // The root (EmptyRoot() for size 0).
  absl::StatusOr<Hash> Root() const;
  // Every tile an Append since Restore changed, with its bytes now.
  const std::map<TileKey, TileBytes>& changed() const { return changed_; }

 private:
  void Push(int level, const Hash& hash);

  uint64_t size_ = 0;
  std::vector<TileBytes> edge_;  // the partial tile of each level (may be empty)
  std::map<TileKey, TileBytes> changed_;
};

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_TILES_H_
