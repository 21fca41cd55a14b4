#include "common/tlog/tiles.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace booking::tlog {
namespace {

constexpr int kMaxLevels = 64 / kTileHeight;  // 8 levels of 8 cover 2^64 leaves

// How many complete level-`level` subtrees (of 2^(8 level) leaves) a tree of
// `size` leaves has.
uint64_t Complete(int level, uint64_t size) {
  return level >= kMaxLevels ? 0 : size >> (kTileHeight * level);
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

int Log2(uint64_t n) {  // n a power of two
  int h = 0;
  while (n > 1) {
    n >>= 1;
    ++h;
  }
  return h;
}

uint64_t LargestPowerOfTwoBelow(uint64_t n) {  // n >= 2
  uint64_t k = 1;
  while (k < n - k) k <<= 1;
  return k;
}

// The hashes [offset, offset + count) of `tile` (32 bytes each).
absl::StatusOr<std::vector<Hash>> Slice(const TileBytes& tile, const TileKey& key, uint64_t offset,
                                        uint64_t count) {
  if (tile.size() % kHashSize != 0 || tile.size() / kHashSize < offset + count) {
    return absl::DataLossError(absl::StrCat("tile ", key.level, "/", key.index, " holds ",
                                            tile.size(), " bytes; the tree needs ",
                                            (offset + count) * kHashSize));
  }
  std::vector<Hash> out(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::copy_n(tile.data() + (offset + i) * kHashSize, kHashSize, out[i].begin());
  }
  return out;
}

// The root of the perfect subtree of 2^height leaves starting at `begin`
// (aligned), from the tile of level height / 8 that holds its children.
absl::StatusOr<Hash> PerfectHash(uint64_t begin, int height, const TileSource& tiles) {
  const int level = height / kTileHeight;
  const uint64_t count = uint64_t{1} << (height % kTileHeight);
  const uint64_t first = begin >> (kTileHeight * level);
  const TileKey key{level, first / kTileWidth};
  absl::StatusOr<TileBytes> tile = tiles(key);
  if (!tile.ok()) return tile.status();
  absl::StatusOr<std::vector<Hash>> hashes = Slice(*tile, key, first % kTileWidth, count);
  if (!hashes.ok()) return hashes.status();
  return RootOf(*hashes);
}

absl::StatusOr<Hash> MTH(uint64_t begin, uint64_t end, const TileSource& tiles) {
  const uint64_t n = end - begin;
  if (IsPowerOfTwo(n) && begin % n == 0) return PerfectHash(begin, Log2(n), tiles);
  if (n == 1) return PerfectHash(begin, 0, tiles);
  const uint64_t k = LargestPowerOfTwoBelow(n);
  absl::StatusOr<Hash> left = MTH(begin, begin + k, tiles);
  if (!left.ok()) return left.status();
  absl::StatusOr<Hash> right = MTH(begin + k, end, tiles);
  if (!right.ok()) return right.status();
  return NodeHash(*left, *right);
}

absl::StatusOr<std::vector<Hash>> HashesOf(const absl::StatusOr<std::vector<LeafRange>>& ranges,
                                           uint64_t size, const TileSource& tiles) {
  if (!ranges.ok()) return ranges.status();
  std::vector<Hash> out;
  out.reserve(ranges->size());
  for (const LeafRange& r : *ranges) {
    absl::StatusOr<Hash> h = RangeHash(r.begin, r.end, size, tiles);
    if (!h.ok()) return h.status();
    out.push_back(*h);
  }
  return out;
}

// The tiles MTH(begin, end) reads, without hashing: the same recursion.
void TilesOf(uint64_t begin, uint64_t end, std::set<TileKey>& keys) {
  const uint64_t n = end - begin;
  if (n == 1 || (IsPowerOfTwo(n) && begin % n == 0)) {
    const int level = n == 1 ? 0 : Log2(n) / kTileHeight;
    keys.insert({level, (begin >> (kTileHeight * level)) / kTileWidth});
    return;
  }
  const uint64_t k = LargestPowerOfTwoBelow(n);
  TilesOf(begin, begin + k, keys);
  TilesOf(begin + k, end, keys);
}

std::vector<TileKey> TilesOfRanges(const absl::StatusOr<std::vector<LeafRange>>& ranges,
                                   uint64_t size) {
  std::set<TileKey> keys;
  if (ranges.ok()) {
    for (const LeafRange& r : *ranges) {
      if (r.begin < r.end && r.end <= size) TilesOf(r.begin, r.end, keys);
    }
  }
  return {keys.begin(), keys.end()};
}

}  // namespace

uint64_t TileWidth(const TileKey& key, uint64_t size) {
  const uint64_t complete = Complete(key.level, size);
  const uint64_t start = key.index * kTileWidth;
  if (key.index >= (uint64_t{1} << 56) || start >= complete) return 0;
  return std::min(kTileWidth, complete - start);
}

std::vector<std::pair<TileKey, uint64_t>> PartialTiles(uint64_t size) {
  std::vector<std::pair<TileKey, uint64_t>> out;
  for (int level = 0; Complete(level, size) > 0; ++level) {
    const uint64_t complete = Complete(level, size);
    if (complete % kTileWidth != 0) {
      out.push_back({TileKey{level, complete / kTileWidth}, complete % kTileWidth});
    }
  }
  return out;
}

absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end, uint64_t size,
                               const TileSource& tiles) {
  if (begin >= end || end > size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaves [", begin, ", ", end, ") are not a range of a tree of ", size));
  }
  return MTH(begin, end, tiles);
}

absl::StatusOr<Hash> TreeRoot(uint64_t size, const TileSource& tiles) {
  if (size == 0) return EmptyRoot();
  return RangeHash(0, size, size, tiles);
}

absl::StatusOr<std::vector<Hash>> TileInclusionProof(uint64_t index, uint64_t size,
                                                     const TileSource& tiles) {
  return HashesOf(InclusionProofRanges(index, size), size, tiles);
}

absl::StatusOr<std::vector<std::vector<Hash>>> TileInclusionProofs(
    absl::Span<const uint64_t> indexes, uint64_t size, const TileSource& tiles) {
  std::map<std::pair<uint64_t, uint64_t>, Hash> hashed;  // [begin, end) -> MTH
  std::vector<std::vector<Hash>> out;
  out.reserve(indexes.size());
  for (uint64_t index : indexes) {
    absl::StatusOr<std::vector<LeafRange>> ranges = InclusionProofRanges(index, size);
    if (!ranges.ok()) return ranges.status();
    std::vector<Hash> proof;
    proof.reserve(ranges->size());
    for (const LeafRange& r : *ranges) {
      auto [it, fresh] = hashed.try_emplace({r.begin, r.end});
      if (fresh) {
        absl::StatusOr<Hash> h = RangeHash(r.begin, r.end, size, tiles);
        if (!h.ok()) return h.status();
        it->second = *h;
      }
      proof.push_back(it->second);
    }
    out.push_back(std::move(proof));
  }
  return out;
}

absl::StatusOr<std::vector<Hash>> TileConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                       const TileSource& tiles) {
  return HashesOf(ConsistencyProofRanges(old_size, new_size), new_size, tiles);
}

std::vector<TileKey> InclusionProofTiles(uint64_t index, uint64_t size) {
  return TilesOfRanges(InclusionProofRanges(index, size), size);
}

std::vector<TileKey> ConsistencyProofTiles(uint64_t old_size, uint64_t new_size) {
  return TilesOfRanges(ConsistencyProofRanges(old_size, new_size), new_size);
}

absl::StatusOr<std::vector<Hash>> TileCompactRange(uint64_t size, const TileSource& tiles) {
  return HashesOf(CompactRangeRanges(size), size, tiles);
}

std::vector<TileKey> CompactRangeTiles(uint64_t size) {
  return TilesOfRanges(CompactRangeRanges(size), size);
}

std::vector<TileKey> RootTiles(uint64_t size) {
  if (size == 0) return {};
  return TilesOfRanges(std::vector<LeafRange>{{0, size}}, size);
}

absl::StatusOr<TileAppender> TileAppender::Restore(uint64_t size,
                                                   const std::map<TileKey, TileBytes>& partial) {
  TileAppender a;
  a.size_ = size;
  for (const auto& [key, width] : PartialTiles(size)) {
    auto it = partial.find(key);
    if (it == partial.end() || it->second.size() < width * kHashSize) {
      return absl::DataLossError(absl::StrCat(
          "tile ", key.level, "/", key.index, " of a tree of ", size, " leaves needs ", width,
          " hashes; the store holds ",
          it == partial.end() ? std::string("none") : absl::StrCat(it->second.size(), " bytes")));
    }
    if (a.edge_.size() <= static_cast<size_t>(key.level)) a.edge_.resize(key.level + 1);
    a.edge_[key.level] = it->second.substr(0, width * kHashSize);
  }
  return a;
}

void TileAppender::Append(const Hash& leaf) {
  ++size_;
  Push(0, leaf);
}

void TileAppender::Push(int level, const Hash& hash) {
  if (edge_.size() <= static_cast<size_t>(level)) edge_.resize(level + 1);
  TileBytes& tile = edge_[level];
  tile.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  const TileKey key{level, (Complete(level, size_) - 1) / kTileWidth};
  changed_[key] = tile;
  if (tile.size() < kTileWidth * kHashSize) return;
  std::vector<Hash> full = *Slice(tile, key, 0, kTileWidth);
  tile.clear();
  Push(level + 1, RootOf(full));
}

absl::StatusOr<Hash> TileAppender::Root() const {
  // The right edge: one perfect subtree per set bit of the size, largest
  // (highest level, then first in its tile) first.
  std::vector<Hash> nodes;
  for (int level = static_cast<int>(edge_.size()) - 1; level >= 0; --level) {
    const TileKey key{level, 0};
    const uint64_t width = edge_[level].size() / kHashSize;
    uint64_t offset = 0;
    for (int bit = kTileHeight - 1; bit >= 0; --bit) {
      const uint64_t count = uint64_t{1} << bit;
      if ((width & count) == 0) continue;
      nodes.push_back(RootOf(*Slice(edge_[level], key, offset, count)));
      offset += count;
    }
  }
  absl::StatusOr<CompactRange> range = CompactRange::Restore(size_, std::move(nodes));
  if (!range.ok()) return range.status();
  return range->Root();
}

}  // namespace booking::tlog
