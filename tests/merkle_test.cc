// The checkpoint's Merkle tree (history-service/merkle.h): every leaf of
// trees of 1 to 70 leaves proves itself against the root; another leaf or a
// changed path element does not.
#include "history-service/merkle.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

std::vector<std::string> LeavesOf(size_t n) {
  std::vector<std::string> leaves;
  for (size_t i = 0; i < n; ++i) {
    leaves.push_back(LeafHash({absl::StrCat("booking-", i), static_cast<int64_t>(i + 1),
                               std::string(32, static_cast<char>(i))}));
  }
  return leaves;
}

TEST(MerkleTest, EveryLeafProvesItselfAndNothingElseDoes) {
  for (size_t n = 1; n <= 70; ++n) {
    const std::vector<std::string> leaves = LeavesOf(n);
    const std::string root = MerkleRoot(leaves);
    for (size_t i = 0; i < n; ++i) {
      const std::vector<std::string> path = AuditPath(leaves, i);
      ASSERT_TRUE(VerifyAuditPath(leaves[i], i, n, path, root)) << n << " leaves, leaf " << i;
      EXPECT_FALSE(VerifyAuditPath(leaves[(i + 1) % n], i, n, path, root) && n > 1);
      // (A path may also fit another tree size: the size is signed in the
      // checkpoint, so it is never the client's guess.)
      if (!path.empty()) {
        std::vector<std::string> bent = path;
        bent.back()[0] ^= 1;
        EXPECT_FALSE(VerifyAuditPath(leaves[i], i, n, bent, root));
      }
    }
  }
}

TEST(MerkleTest, RootChangesWithAnyHead) {
  std::vector<std::string> leaves = LeavesOf(9);
  const std::string root = MerkleRoot(leaves);
  EXPECT_NE(LeafHash({"b", 1, "h"}), LeafHash({"b", 2, "h"}));
  EXPECT_NE(LeafHash({"b1", 1, "h"}), LeafHash({"b", 11, "h"}));  // fields are length-framed
  leaves[4] = LeafHash({"booking-4", 6, std::string(32, '\x04')});
  EXPECT_NE(MerkleRoot(leaves), root);
  EXPECT_EQ(MerkleRoot({}).size(), 32u);
}

}  // namespace
}  // namespace booking
