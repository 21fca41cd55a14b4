// The transparency log's Merkle tree (common/tlog/merkle.h) against published
// known answers (the Certificate Transparency reference vectors as kept by
// transparency-dev/merkle), then a seeded random sweep: every proof of random
// trees verifies, and any altered proof, index or size is refused; the
// compact range gives the recursive root at every size up to 1,000.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/tlog/merkle.h"
#include "gtest/gtest.h"

namespace booking::tlog {
namespace {

Hash H(absl::string_view hex) { return *HashFromBytes(absl::HexStringToBytes(hex)); }

// transparency-dev/merkle, proof/verify_test.go at commit bcba819^ (the
// vectors before they moved to testdata/*.json, where the same values are
// kept in base64): the leaves, the roots of sizes 1 to 8, and proofs.
const std::vector<std::string>& Leaves() {
  static const auto* leaves =
      new std::vector<std::string>{"",
                                   absl::HexStringToBytes("00"),
                                   absl::HexStringToBytes("10"),
                                   absl::HexStringToBytes("2021"),
                                   absl::HexStringToBytes("3031"),
                                   absl::HexStringToBytes("40414243"),
                                   absl::HexStringToBytes("5051525354555657"),
                                   absl::HexStringToBytes("606162636465666768696a6b6c6d6e6f")};
  return *leaves;
}

const char* const kRoots[8] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                               "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                               "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                               "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                               "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                               "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                               "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

struct Vector {
  uint64_t a;  // inclusion: the leaf, 1-based as in the source; consistency: size1
  uint64_t b;  // the tree size (size2)
  std::vector<const char*> proof;
};

const std::vector<Vector> kInclusion = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {3, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {2,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}}};

const std::vector<Vector> kConsistency = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}}};

std::vector<Hash> LeafHashes() {
  std::vector<Hash> out;
  for (const std::string& leaf : Leaves()) out.push_back(LeafHash(leaf));
  return out;
}

std::vector<Hash> Hashes(const std::vector<const char*>& hex) {
  std::vector<Hash> out;
  for (const char* h : hex) out.push_back(H(h));
  return out;
}

// transparency-dev/merkle, rfc6962/rfc6962_test.go (TestRFC6962Hasher).
TEST(TlogMerkleTest, HasherKnownAnswers) {
  EXPECT_EQ(HashToHex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashToHex(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(HashToHex(LeafHash("L123456")),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
  EXPECT_EQ(RootOf({}), EmptyRoot());
  EXPECT_FALSE(HashFromBytes(std::string(31, 'x')).ok());
}

TEST(TlogMerkleTest, RootsOfEverySizeMatchThePublishedOnes) {
  const std::vector<Hash> leaves = LeafHashes();
  CompactRange range;
  for (size_t n = 1; n <= 8; ++n) {
    EXPECT_EQ(HashToHex(RootOf(absl::MakeConstSpan(leaves).subspan(0, n))), kRoots[n - 1]) << n;
    ASSERT_TRUE(range.Append(leaves[n - 1]).ok());
    EXPECT_EQ(HashToHex(range.Root()), kRoots[n - 1]) << n;
  }
}

TEST(TlogMerkleTest, InclusionProofsMatchThePublishedOnesAndVerify) {
  const std::vector<Hash> leaves = LeafHashes();
  for (const Vector& v : kInclusion) {
    const uint64_t index = v.a - 1;
    const auto tree = absl::MakeConstSpan(leaves).subspan(0, v.b);
    absl::StatusOr<std::vector<Hash>> proof = InclusionProof(tree, index);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(*proof, Hashes(v.proof)) << "leaf " << index << " size " << v.b;
    EXPECT_TRUE(
        VerifyInclusion(leaves[index], index, v.b, Hashes(v.proof), H(kRoots[v.b - 1])).ok())
        << "leaf " << index << " size " << v.b;
  }
}

TEST(TlogMerkleTest, ConsistencyProofsMatchThePublishedOnesAndVerify) {
  const std::vector<Hash> leaves = LeafHashes();
  for (const Vector& v : kConsistency) {
    const auto tree = absl::MakeConstSpan(leaves).subspan(0, v.b);
    absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(tree, v.a);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(*proof, Hashes(v.proof)) << v.a << " to " << v.b;
    EXPECT_TRUE(
        VerifyConsistency(v.a, v.b, H(kRoots[v.a - 1]), H(kRoots[v.b - 1]), Hashes(v.proof)).ok())
        << v.a << " to " << v.b;
  }
}

// The refusals of transparency-dev/merkle's proof/verify_test.go
// (TestVerifyInclusion, TestVerifyConsistency) and of its
// testdata/{inclusion,consistency}/additional probes.
TEST(TlogMerkleTest, PublishedRefusals) {
  const Hash some = H("abacaba000000000000000000000000000000000000000000060061e00123456");
  const Hash empty = EmptyRoot();
  for (auto [index, size] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}, {1, 0}, {2, 1}}) {
    EXPECT_EQ(VerifyInclusion(some, index, size, {}, empty).code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(VerifyInclusion(some, 0, 1, {}, empty).code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(VerifyInclusion(some, 0, 1, {}, some).ok());  // single-entry: the root is the leaf
  const Hash r1 = LeafHash("don't care 1"), r2 = LeafHash("don't care 2");
  EXPECT_FALSE(VerifyConsistency(0, 0, r1, r1, {}).ok());     // nothing to prove from size 0
  EXPECT_FALSE(VerifyConsistency(0, 1, empty, r2, {}).ok());  // ... nor to another size
  EXPECT_FALSE(VerifyConsistency(1, 1, r1, r2, {}).ok());
  EXPECT_TRUE(VerifyConsistency(1, 1, r2, r2, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 0, r1, r2, {}).ok());
  EXPECT_FALSE(VerifyConsistency(2, 1, r1, r2, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 2, r1, r2, {}).ok());  // empty proof
  EXPECT_FALSE(VerifyConsistency(1, 1, empty, empty, {empty}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 1, empty, empty, {empty}).ok());
  EXPECT_FALSE(InclusionProofRanges(3, 3).ok());
  EXPECT_FALSE(ConsistencyProofRanges(0, 3).ok());
  EXPECT_FALSE(ConsistencyProofRanges(4, 3).ok());
}

// A tree of `n` random leaves.
std::vector<Hash> RandomTree(std::mt19937_64& rng, uint64_t n) {
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < n; ++i) leaves.push_back(LeafHash(absl::StrCat(rng(), "/", i)));
  return leaves;
}

uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
  return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
}

// Every altered form of a good inclusion proof is refused.
void ExpectInclusionRefusals(std::mt19937_64& rng, const std::vector<Hash>& leaves, uint64_t index,
                             const std::vector<Hash>& proof, const Hash& root) {
  const uint64_t n = leaves.size();
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<Hash> bent = proof;
    bent[i][Uniform(rng, 0, kHashSize - 1)] ^= uint8_t{1} << Uniform(rng, 0, 7);
    EXPECT_FALSE(VerifyInclusion(leaves[index], index, n, bent, root).ok()) << i;
  }
  if (!proof.empty()) {
    const std::vector<Hash> cut(proof.begin(), proof.end() - 1);
    EXPECT_EQ(VerifyInclusion(leaves[index], index, n, cut, root).code(),
              absl::StatusCode::kInvalidArgument);
  }
  std::vector<Hash> longer = proof;
  longer.push_back(root);
  EXPECT_EQ(VerifyInclusion(leaves[index], index, n, longer, root).code(),
            absl::StatusCode::kInvalidArgument);
  if (n > 1) {
    const uint64_t other = (index + Uniform(rng, 1, n - 1)) % n;
    EXPECT_FALSE(VerifyInclusion(leaves[index], other, n, proof, root).ok()) << other;
    EXPECT_FALSE(VerifyInclusion(leaves[other], index, n, proof, root).ok()) << other;
    // A size comes signed with its root: another size, with its own root.
    const uint64_t size = Uniform(rng, index + 1, n - 1 > index ? n - 1 : n);
    if (size != n) {
      const Hash its_root = RootOf(absl::MakeConstSpan(leaves).subspan(0, size));
      EXPECT_FALSE(VerifyInclusion(leaves[index], index, size, proof, its_root).ok()) << size;
    }
  }
}

// Every altered form of a good consistency proof from `m` is refused.
void ExpectConsistencyRefusals(std::mt19937_64& rng, const std::vector<Hash>& leaves, uint64_t m,
                               const std::vector<Hash>& proof) {
  const uint64_t n = leaves.size();
  const auto root = [&](uint64_t size) {
    return RootOf(absl::MakeConstSpan(leaves).subspan(0, size));
  };
  const Hash old_root = root(m), new_root = root(n);
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<Hash> bent = proof;
    bent[i][Uniform(rng, 0, kHashSize - 1)] ^= uint8_t{1} << Uniform(rng, 0, 7);
    EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, bent).ok()) << i;
  }
  if (!proof.empty()) {
    const std::vector<Hash> cut(proof.begin(), proof.end() - 1);
    EXPECT_EQ(VerifyConsistency(m, n, old_root, new_root, cut).code(),
              absl::StatusCode::kInvalidArgument);
  }
  const uint64_t other_old = Uniform(rng, 1, n);
  if (other_old != m) {
    EXPECT_FALSE(VerifyConsistency(other_old, n, root(other_old), new_root, proof).ok());
  }
  const uint64_t other_new = Uniform(rng, m, n);
  if (other_new != n) {
    EXPECT_FALSE(VerifyConsistency(m, other_new, old_root, root(other_new), proof).ok());
  }
  EXPECT_FALSE(VerifyConsistency(m, n, new_root, old_root, proof).ok() && old_root != new_root);
}

TEST(TlogMerkleTest, RandomTreesProveAndRefuseAlteredProofs) {
  const uint64_t seed = 20261207;
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  for (int tree = 0; tree < 40; ++tree) {
    const uint64_t n = Uniform(rng, 1, 2000);
    const std::vector<Hash> leaves = RandomTree(rng, n);
    const Hash root = RootOf(leaves);
    SCOPED_TRACE(absl::StrCat("size ", n));
    for (int k = 0; k < 15; ++k) {
      const uint64_t index = Uniform(rng, 0, n - 1);
      const std::vector<Hash> proof = *InclusionProof(leaves, index);
      ASSERT_EQ(proof.size(), *InclusionProofLength(index, n));
      ASSERT_TRUE(VerifyInclusion(leaves[index], index, n, proof, root).ok()) << index;
      ExpectInclusionRefusals(rng, leaves, index, proof, root);
    }
    for (int k = 0; k < 15; ++k) {
      const uint64_t m = Uniform(rng, 1, n);
      const std::vector<Hash> proof = *ConsistencyProof(leaves, m);
      ASSERT_EQ(proof.size(), *ConsistencyProofLength(m, n));
      const Hash old_root = RootOf(absl::MakeConstSpan(leaves).subspan(0, m));
      ASSERT_TRUE(VerifyConsistency(m, n, old_root, root, proof).ok()) << m;
      ExpectConsistencyRefusals(rng, leaves, m, proof);
    }
  }
}

// Small trees exhaustively: every index and every size pair.
TEST(TlogMerkleTest, EveryProofOfSmallTreesVerifies) {
  std::mt19937_64 rng(7);
  const std::vector<Hash> leaves = RandomTree(rng, 40);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const auto tree = absl::MakeConstSpan(leaves).subspan(0, n);
    const Hash root = RootOf(tree);
    for (uint64_t i = 0; i < n; ++i) {
      EXPECT_TRUE(VerifyInclusion(leaves[i], i, n, *InclusionProof(tree, i), root).ok());
    }
    for (uint64_t m = 1; m <= n; ++m) {
      const Hash old_root = RootOf(tree.subspan(0, m));
      EXPECT_TRUE(VerifyConsistency(m, n, old_root, root, *ConsistencyProof(tree, m)).ok());
    }
  }
}

TEST(TlogMerkleTest, CompactRangeRootIsTheRecursiveRootAtEverySize) {
  std::mt19937_64 rng(11);
  const std::vector<Hash> leaves = RandomTree(rng, 1000);
  CompactRange range;
  EXPECT_EQ(range.Root(), EmptyRoot());
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    ASSERT_TRUE(range.Append(leaves[n - 1]).ok());
    ASSERT_EQ(range.size(), n);
    ASSERT_EQ(range.nodes().size(), static_cast<size_t>(__builtin_popcountll(n)));
    ASSERT_EQ(range.Root(), RootOf(absl::MakeConstSpan(leaves).subspan(0, n))) << n;
    absl::StatusOr<CompactRange> restored = CompactRange::Restore(n, range.nodes());
    ASSERT_TRUE(restored.ok());
    EXPECT_EQ(restored->Root(), range.Root());
  }
  EXPECT_EQ(CompactRange::Restore(3, {EmptyRoot()}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactRange::Restore(0, {EmptyRoot()}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The ranges a store would serve are the proof's hashes.
TEST(TlogMerkleTest, ProofRangesNameTheProofHashes) {
  const std::vector<Hash> leaves = LeafHashes();
  const std::vector<LeafRange> ranges = *ConsistencyProofRanges(6, 8);
  ASSERT_EQ(ranges, (std::vector<LeafRange>{{4, 6}, {6, 8}, {0, 4}}));
  const std::vector<Hash> proof = *ConsistencyProof(leaves, 6);
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto part =
        absl::MakeConstSpan(leaves).subspan(ranges[i].begin, ranges[i].end - ranges[i].begin);
    EXPECT_EQ(RootOf(part), proof[i]);
  }
  EXPECT_EQ(*InclusionProofRanges(2, 5), (std::vector<LeafRange>{{3, 4}, {0, 2}, {4, 5}}));
}

}  // namespace
}  // namespace booking::tlog
