// The witness (common/tlog/witness.h): it moves from its trusted checkpoint
// only to a signed, same-origin, no-smaller, provably consistent one, and
// keeps the trusted checkpoint in a file replaced atomically.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/tlog/witness.h"
#include "gtest/gtest.h"

namespace booking::tlog {
namespace {

constexpr char kOrigin[] = "example.com/bookings";

class WitnessTest : public ::testing::Test {
 protected:
  WitnessTest() : log_(*NoteSigner::Generate(kOrigin)) {
    for (int i = 0; i < 100; ++i) leaves_.push_back(LeafHash(absl::StrCat("entry ", i)));
  }

  Checkpoint At(uint64_t size) const {
    return {kOrigin, size, RootOf(absl::MakeConstSpan(leaves_).subspan(0, size)), {}};
  }
  std::string Signed(const Checkpoint& c) const { return *SignCheckpoint(c, log_); }
  std::vector<Hash> Proof(uint64_t from, uint64_t to) const {
    return *ConsistencyProof(absl::MakeConstSpan(leaves_).subspan(0, to), from);
  }
  absl::StatusCode Next(const Checkpoint& trusted, const std::string& note,
                        const std::vector<Hash>& proof) const {
    return CheckNextCheckpoint(trusted, note, proof, {log_.verifier()}).status().code();
  }

  NoteSigner log_;
  std::vector<Hash> leaves_;
};

TEST_F(WitnessTest, AcceptsAConsistentLargerOrEqualCheckpoint) {
  absl::StatusOr<Checkpoint> next =
      CheckNextCheckpoint(At(10), Signed(At(37)), Proof(10, 37), {log_.verifier()});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->size, 37u);
  EXPECT_EQ(Next(At(37), Signed(At(37)), {}), absl::StatusCode::kOk);
  EXPECT_EQ(Next(At(0), Signed(At(5)), {}), absl::StatusCode::kOk);  // from the empty tree
}

TEST_F(WitnessTest, RefusesForksRollbacksOtherLogsAndBadSignatures) {
  // A fork: the log rewrote entry 3 and signed the new tree.
  std::vector<Hash> forked = leaves_;
  forked[3] = LeafHash("rewritten");
  const Checkpoint fork{kOrigin, 40, RootOf(absl::MakeConstSpan(forked).subspan(0, 40)), {}};
  const std::vector<Hash> fork_proof =
      *ConsistencyProof(absl::MakeConstSpan(forked).subspan(0, 40), 10);
  EXPECT_EQ(Next(At(10), Signed(fork), fork_proof), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Next(At(10), Signed(fork), Proof(10, 40)), absl::StatusCode::kDataLoss);
  // The same size with another root is a fork too.
  Checkpoint same = At(10);
  same.root = LeafHash("other");
  EXPECT_EQ(Next(At(10), Signed(same), {}), absl::StatusCode::kDataLoss);
  // A rollback.
  EXPECT_EQ(Next(At(37), Signed(At(10)), {}), absl::StatusCode::kFailedPrecondition);
  // Another log's checkpoint, even signed by the same key.
  Checkpoint other = At(37);
  other.origin = "example.com/other";
  EXPECT_EQ(Next(At(10), *SignCheckpoint(other, log_), Proof(10, 37)),
            absl::StatusCode::kFailedPrecondition);
  // Signed by a key the witness does not trust.
  const NoteSigner impostor = *NoteSigner::Generate(kOrigin);
  EXPECT_EQ(Next(At(10), *SignCheckpoint(At(37), impostor), Proof(10, 37)),
            absl::StatusCode::kUnauthenticated);
  // A proof of the wrong shape; a proof from the empty tree.
  std::vector<Hash> short_proof = Proof(10, 37);
  short_proof.pop_back();
  EXPECT_EQ(Next(At(10), Signed(At(37)), short_proof), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Next(At(0), Signed(At(5)), Proof(1, 5)), absl::StatusCode::kInvalidArgument);
  Checkpoint empty = At(0);
  empty.root = LeafHash("not empty");
  EXPECT_EQ(Next(At(0), Signed(empty), {}), absl::StatusCode::kDataLoss);
}

TEST_F(WitnessTest, TrustedFileIsReplacedWholeAndVerifiedOnLoad) {
  char dir_template[] = "/tmp/tlog_witness_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template, path = dir + "/trusted";
  EXPECT_EQ(LoadTrustedCheckpoint(path, {log_.verifier()}).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(StoreTrustedCheckpoint(path, Signed(At(10))).ok());
  ASSERT_TRUE(StoreTrustedCheckpoint(path, Signed(At(37))).ok());
  absl::StatusOr<Checkpoint> loaded = LoadTrustedCheckpoint(path, {log_.verifier()});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->size, 37u);
  EXPECT_EQ(loaded->root, At(37).root);
  { std::ofstream(path, std::ios::app) << "— extra line without base64\n"; }
  EXPECT_EQ(LoadTrustedCheckpoint(path, {log_.verifier()}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StoreTrustedCheckpoint(dir + "/missing/trusted", "x").code(),
            absl::StatusCode::kInternal);
  unlink(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace booking::tlog
