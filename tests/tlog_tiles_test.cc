// The tree kept as tiles (common/tlog/tiles.h) against the tree computed from
// every leaf (common/tlog/merkle.h, itself checked against published
// vectors): a seeded random sweep appends leaves in random batches to a tile
// store as a database would keep it (restoring the appender from the stored
// partial tiles before each batch), and at each size checks the root, then
// inclusion and consistency proofs read from the tiles (for older sizes too,
// from the longer tiles of now), and that the proofs verify; the compact
// range of an older size read from the tiles extends to the newer root. A store whose
// tile is short or missing is refused, never guessed.
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/tlog/merkle.h"
#include "common/tlog/tiles.h"
#include "gtest/gtest.h"

namespace booking::tlog {
namespace {

struct Store {
  std::map<TileKey, TileBytes> tiles;
  TileSource Source() const {
    return [this](const TileKey& key) -> absl::StatusOr<TileBytes> {
      auto it = tiles.find(key);
      if (it == tiles.end()) return absl::NotFoundError("no tile");
      return it->second;
    };
  }
  // Appends `leaves` as a sequencer would: restored from what is stored.
  void Append(uint64_t size, const std::vector<Hash>& leaves) {
    std::map<TileKey, TileBytes> partial;
    for (const auto& [key, width] : PartialTiles(size)) partial[key] = tiles.at(key);
    absl::StatusOr<TileAppender> a = TileAppender::Restore(size, partial);
    ASSERT_TRUE(a.ok()) << a.status();
    for (const Hash& leaf : leaves) a->Append(leaf);
    for (const auto& [key, bytes] : a->changed()) {
      auto it = tiles.find(key);
      if (it != tiles.end()) {  // append only: a stored tile only grows, never changes
        ASSERT_EQ(bytes.compare(0, it->second.size(), it->second), 0)
            << key.level << "/" << key.index;
        ASSERT_LE(it->second.size(), kTileWidth * kHashSize);
      }
      tiles[key] = bytes;
    }
    all.insert(all.end(), leaves.begin(), leaves.end());
    for (const Hash& leaf : leaves) ASSERT_TRUE(reference.Append(leaf).ok());
    ASSERT_EQ(*a->Root(), reference.Root());
  }
  std::vector<Hash> all;   // every leaf appended, in order
  CompactRange reference;  // the root of `all`, kept as it grows
};

Hash LeafNumber(uint64_t i) { return LeafHash(absl::StrCat("leaf ", i)); }

// The compact range of `old_size` leaves, from the tiles it names alone:
// restored, it gives that size's root and extends to `new_size`'s.
void ExpectCompactRangeFromTiles(const Store& store, uint64_t old_size, uint64_t new_size) {
  const std::vector<Hash>& all = store.all;
  Store range_only;
  for (const TileKey& key : CompactRangeTiles(old_size))
    range_only.tiles[key] = store.tiles.at(key);
  absl::StatusOr<std::vector<Hash>> nodes = TileCompactRange(old_size, range_only.Source());
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  absl::StatusOr<CompactRange> range = CompactRange::Restore(old_size, *nodes);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->Root(), RootOf(absl::Span<const Hash>(all.data(), old_size))) << old_size;
  for (uint64_t i = old_size; i < new_size; ++i) ASSERT_TRUE(range->Append(all[i]).ok());
  EXPECT_EQ(range->Root(), RootOf(absl::Span<const Hash>(all.data(), new_size)))
      << old_size << " to " << new_size;
}

TEST(TlogTiles, WidthsAndPartialTiles) {
  EXPECT_EQ(TileWidth({0, 0}, 0), 0u);
  EXPECT_EQ(TileWidth({0, 0}, 5), 5u);
  EXPECT_EQ(TileWidth({0, 0}, 300), 256u);
  EXPECT_EQ(TileWidth({0, 1}, 300), 44u);
  EXPECT_EQ(TileWidth({1, 0}, 300), 1u);
  EXPECT_EQ(TileWidth({1, 0}, 255), 0u);
  const auto partial = PartialTiles(256 * 256 * 3 + 256 * 2 + 7);
  ASSERT_EQ(partial.size(), 3u);
  EXPECT_EQ(partial[0].first, (TileKey{0, 3 * 256 + 2}));
  EXPECT_EQ(partial[0].second, 7u);
  EXPECT_EQ(partial[1].first, (TileKey{1, 3}));
  EXPECT_EQ(partial[1].second, 2u);
  EXPECT_EQ(partial[2].first, (TileKey{2, 0}));
  EXPECT_EQ(partial[2].second, 3u);
  // 65,536 leaves fill the tiles of levels 0 and 1; their one root is a
  // level-2 tile of width 1.
  const auto square = PartialTiles(256 * 256);
  ASSERT_EQ(square.size(), 1u);
  EXPECT_EQ(square[0].first, (TileKey{2, 0}));
  EXPECT_EQ(square[0].second, 1u);
  EXPECT_TRUE(PartialTiles(0).empty());
}

TEST(TlogTiles, RandomAppendsGiveTheTreesRootAndProofs) {
  std::mt19937_64 rng(20261207);
  Store store;
  uint64_t size = 0;
  std::vector<uint64_t> sizes_seen;
  while (size < 70000) {
    // Mostly small batches, sometimes a tile's worth or more.
    const uint64_t n = (rng() % 8 == 0) ? 1 + rng() % 3000 : 1 + rng() % 40;
    std::vector<Hash> leaves;
    for (uint64_t i = 0; i < n; ++i) leaves.push_back(LeafNumber(size + i));
    store.Append(size, leaves);
    size += n;
    sizes_seen.push_back(size);
    ASSERT_EQ(*TreeRoot(size, store.Source()), store.reference.Root()) << size;
  }
  const std::vector<Hash>& all = store.all;
  ASSERT_EQ(store.reference.Root(), RootOf(all));  // the compact range against the recursive MTH
  for (int trial = 0; trial < 100; ++trial) {
    // An older size, proven from the tiles of now.
    const uint64_t old_size = sizes_seen[rng() % sizes_seen.size()];
    const uint64_t new_size = old_size + rng() % (size - old_size + 1);
    const absl::Span<const Hash> old_tree(all.data(), old_size), new_tree(all.data(), new_size);
    const uint64_t index = rng() % old_size;
    absl::StatusOr<std::vector<Hash>> inclusion =
        TileInclusionProof(index, old_size, store.Source());
    ASSERT_TRUE(inclusion.ok()) << inclusion.status();
    EXPECT_EQ(*inclusion, *InclusionProof(old_tree, index)) << index << " of " << old_size;
    EXPECT_TRUE(VerifyInclusion(all[index], index, old_size, *inclusion, RootOf(old_tree)).ok());
    absl::StatusOr<std::vector<Hash>> consistency =
        TileConsistencyProof(old_size, new_size, store.Source());
    ASSERT_TRUE(consistency.ok()) << consistency.status();
    EXPECT_EQ(*consistency, *ConsistencyProof(new_tree, old_size))
        << old_size << " to " << new_size;
    EXPECT_TRUE(
        VerifyConsistency(old_size, new_size, RootOf(old_tree), RootOf(new_tree), *consistency)
            .ok());
    // The tiles the proofs named in advance are the ones they read.
    Store only;
    for (const TileKey& key : InclusionProofTiles(index, old_size))
      only.tiles[key] = store.tiles.at(key);
    for (const TileKey& key : ConsistencyProofTiles(old_size, new_size))
      only.tiles[key] = store.tiles.at(key);
    EXPECT_TRUE(TileInclusionProof(index, old_size, only.Source()).ok());
    EXPECT_TRUE(TileConsistencyProof(old_size, new_size, only.Source()).ok());
    Store root_only;
    for (const TileKey& key : RootTiles(new_size)) root_only.tiles[key] = store.tiles.at(key);
    absl::StatusOr<Hash> root = TreeRoot(new_size, root_only.Source());
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(*root, RootOf(new_tree));
    ExpectCompactRangeFromTiles(store, old_size, new_size);
  }
}

// A booking's proofs read together (TileInclusionProofs: a range shared by
// several proofs hashed once) are each the proof of its own leaf: leaves
// close together (one tile, as a booking's folded rows) and far apart, at
// random sizes.
TEST(TlogTiles, ProofsOfSeveralLeavesAreEachLeafsOwn) {
  std::mt19937_64 rng(20261208);
  Store store;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < 70000; ++i) leaves.push_back(LeafNumber(i));
  store.Append(0, leaves);
  for (int trial = 0; trial < 200; ++trial) {
    const uint64_t size = 1 + rng() % store.all.size();
    std::vector<uint64_t> indexes;
    const uint64_t start = rng() % size;
    for (uint64_t i = start; i < size && i < start + rng() % 12; ++i) indexes.push_back(i);
    for (int k = 0; k < 3; ++k) indexes.push_back(rng() % size);  // a repeat too, sometimes
    absl::StatusOr<std::vector<std::vector<Hash>>> proofs =
        TileInclusionProofs(indexes, size, store.Source());
    ASSERT_TRUE(proofs.ok()) << proofs.status();
    ASSERT_EQ(proofs->size(), indexes.size());
    // Each as the single proof gives it (which the test above holds to the
    // proof from every leaf), and each verifies against the tree's root.
    const Hash root = *TreeRoot(size, store.Source());
    for (size_t k = 0; k < indexes.size(); ++k) {
      const uint64_t index = indexes[k];
      EXPECT_EQ((*proofs)[k], *TileInclusionProof(index, size, store.Source()))
          << index << " of " << size;
      EXPECT_TRUE(VerifyInclusion(store.all[index], index, size, (*proofs)[k], root).ok());
    }
  }
  const std::vector<uint64_t> beyond = {3, 70000};
  EXPECT_EQ(TileInclusionProofs(beyond, 70000, store.Source()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TlogTiles, AShortOrMissingTileIsRefused) {
  Store store;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < 600; ++i) leaves.push_back(LeafNumber(i));
  store.Append(0, leaves);
  // Restoring needs each partial tile whole.
  std::map<TileKey, TileBytes> partial = {{{0, 2}, store.tiles.at({0, 2}).substr(0, 32)},
                                          {{1, 0}, store.tiles.at({1, 0})}};
  absl::StatusOr<TileAppender> a = TileAppender::Restore(600, partial);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
  partial.erase({1, 0});
  partial[{0, 2}] = store.tiles.at({0, 2});
  EXPECT_EQ(TileAppender::Restore(600, partial).status().code(), absl::StatusCode::kDataLoss);
  // Reading a proof from a shortened tile.
  store.tiles[{0, 2}].resize(10 * kHashSize);
  EXPECT_EQ(TreeRoot(600, store.Source()).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(TileInclusionProof(599, 600, store.Source()).status().code(),
            absl::StatusCode::kDataLoss);
  const std::vector<uint64_t> near_the_end = {0, 599};
  EXPECT_EQ(TileInclusionProofs(near_the_end, 600, store.Source()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(RangeHash(5, 5, 600, store.Source()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RangeHash(0, 601, 600, store.Source()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace booking::tlog
