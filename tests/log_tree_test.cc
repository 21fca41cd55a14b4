// The audit trail's Merkle tree in the history store (history-service/
// log_tree.h, schema step 0012), on a real PostgreSQL 15:
// - rows from before the watch feed are folded in first, by booking and
//   sequence, then the feed in position order; `migrator fold-log` killed
//   with SIGKILL at a random moment leaves a tree the next run finishes, with
//   exactly the root of the tree computed from every row (the whole order
//   checked leaf by leaf);
// - with history-service running, its sequencer keeps the tree up with what
//   Ingest stores; inclusion proofs for random rows and consistency proofs
//   between heads seen along the way, read from the stored tiles, verify
//   with common/tlog's RFC 9162 verifier;
// - the store refuses to rewrite a tile or a leaf, and a tree altered behind
//   the triggers' back (a superuser) is never extended, nor one whose feed
//   names a row deleted from the store.
#include "history-service/log_tree.h"

#include <signal.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/exit_codes.h"
#include "common/tlog/merkle.h"
#include "gtest/gtest.h"
#include "history-service/feed_sequencer.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

// Every row's leaf in the tree's order: rows without a feed position by
// booking and sequence, then positioned rows by position.
std::vector<tlog::Hash> ExpectedLeaves(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  const pqxx::result r = txn.exec(absl::StrCat("SELECT ", kContentColumns, R"(
      FROM "BookingStatusHistory" h LEFT JOIN "BookingStatusHistoryFeed" f ON f."historyId" = h.id
      ORDER BY f.position NULLS FIRST, h."bookingId", h.sequence)"));
  std::vector<tlog::Hash> out;
  for (const pqxx::row& row : r) out.push_back(tlog::LeafHash(Canonical(ReadContent(row))));
  return out;
}

TreeHead Head(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  absl::StatusOr<TreeHead> head = ReadTreeHead(txn);
  EXPECT_TRUE(head.ok()) << head.status();
  return head.ok() ? *head : TreeHead{};
}

// Rows stored as history-service stores them, minus the hash: inserted and
// queued in one statement, then given feed positions.
void AddQueuedRows(const std::string& url, const std::string& prefix, int n) {
  Exec(url, absl::StrCat(R"(WITH h AS (
                 INSERT INTO "BookingStatusHistory"
                   ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
                 SELECT gen_random_uuid(), ')",
                         prefix, R"(' || b, 1, NULL, 'CONFIRMED', 'new'
                 FROM generate_series(1, )",
                         n, R"() b RETURNING id)
               INSERT INTO "BookingStatusHistoryFeedQueue" ("historyId") SELECT id FROM h)"));
  pqxx::connection conn(url);
  absl::StatusOr<Sequenced> moved = SequenceQueued(conn, n);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_EQ(moved->entries, n);
  ASSERT_EQ(moved->queue_rows, n);  // queued one by one
}

// Rows from before the feed (plain SQL: no position, not queued), as a
// store written before schema step 0008 holds them; step 0012 on such a
// store leaves "legacyDone" false.
void AddLegacyRows(const std::string& url) {
  Exec(url, R"(INSERT INTO "BookingStatusHistory"
                 ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
               SELECT gen_random_uuid(), 'old-' || b, s, NULL, 'PENDING_PAYMENT', 'old'
               FROM generate_series(1, 40) b, generate_series(1, 5) s)");
  Exec(url, R"(UPDATE "BookingStatusHistoryTree" SET "legacyDone" = false)");
}

absl::StatusOr<Integrated> IntegrateAll(const std::string& url) {
  pqxx::connection conn(url);
  absl::StatusOr<Integrated> n;
  do {
    n = IntegrateRows(conn, 1000);
  } while (n.ok() && n->appended == 1000);
  return n;
}

class LogTreeTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto fold = ServiceSet::Create(*pg_, "logfold");
    ASSERT_TRUE(fold.ok()) << fold.status();
    fold_ = *std::move(fold);
    auto live = ServiceSet::Create(*pg_, "logtree");
    ASSERT_TRUE(live.ok()) << live.status();
    live_ = *std::move(live);
    ASSERT_TRUE(live_->StartHistory().ok()) << live_->Logs();
  }
  static void TearDownTestSuite() {
    fold_.reset();
    live_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(live_, nullptr);
  }

  inline static std::unique_ptr<ServiceSet> fold_, live_;
};

TEST_F(LogTreeTest, OlderRowsFoldInFirstAndAKilledFolderIsResumed) {
  const std::string url = fold_->history_url();
  AddLegacyRows(url);
  // Then rows that went through the feed's queue.
  AddQueuedRows(url, "new-", 150);
  const std::vector<tlog::Hash> expected = ExpectedLeaves(url);
  ASSERT_EQ(expected.size(), 350u);
  // `migrator fold-log` a row a transaction, killed at a random point.
  std::mt19937 rng(7);
  const std::string log = fold_->log_dir() + "/fold-log.out";
  auto fold = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {MIGRATOR_BIN, "fold-log", "--history-database-url", url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process::Spawn(argv, {}, log);
  };
  absl::StatusOr<Process> dry = fold({"--dry-run"});
  ASSERT_TRUE(dry.ok()) << dry.status();
  ASSERT_EQ(dry->Wait(absl::Seconds(60)).value_or(-1), 0) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "the tree holds 0 entries")) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "still to fold")) << ReadFile(log);
  absl::StatusOr<Process> folder = fold({"--batch-size", "1"});
  ASSERT_TRUE(folder.ok()) << folder.status();
  const uint64_t kill_at = 30 + rng() % 250;
  pqxx::connection watcher(url);
  const absl::Status reached = WaitFor(
      [&] {
        pqxx::nontransaction t(watcher);
        return t.exec(R"(SELECT size FROM "BookingStatusHistoryTree")")[0][0].as<uint64_t>() >=
               kill_at;
      },
      absl::Seconds(60), "the folder's progress", absl::Milliseconds(1));
  folder->Signal(SIGKILL);
  EXPECT_EQ(folder->Wait(absl::Seconds(30)).value_or(-1), 128 + SIGKILL) << ReadFile(log);
  ASSERT_TRUE(reached.ok()) << reached << ReadFile(log);
  const TreeHead killed = Head(url);
  ASSERT_LT(killed.size, expected.size()) << "killed after it finished: nothing was resumed";
  // What the killed folder committed is a prefix of the whole tree.
  EXPECT_EQ(killed.root, tlog::RootOf(absl::MakeConstSpan(expected).first(killed.size)));
  // The next run finishes it (and says where the fold stands), each batch
  // over its budget of 1us: they stay at the smallest size and it ends.
  absl::StatusOr<Process> rest_run = fold({"--batch-time=1us"});
  ASSERT_TRUE(rest_run.ok()) << rest_run.status();
  ASSERT_EQ(rest_run->Wait(absl::Seconds(60)).value_or(-1), 0) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "rows from before the log all folded in"))
      << ReadFile(log);
  const TreeHead done = Head(url);
  EXPECT_EQ(done.size, expected.size());
  EXPECT_EQ(done.root, tlog::RootOf(expected));
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  absl::StatusOr<tlog::Hash> from_tiles = StoredRoot(txn, expected.size());
  ASSERT_TRUE(from_tiles.ok()) << from_tiles.status();
  EXPECT_EQ(*from_tiles, done.root);
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "BookingStatusHistoryLeaf")"), 350);
  EXPECT_EQ(QueryValue(url, R"(SELECT "legacyDone" FROM "BookingStatusHistoryTree")"), "t");
}

TEST_F(LogTreeTest, ANegativeBatchTimeIsRefusedBeforeAnythingRuns) {
  const std::string log = fold_->log_dir() + "/fold-log-negative.out";
  absl::StatusOr<Process> negative = Process::Spawn(
      {MIGRATOR_BIN, "fold-log", "--history-database-url", fold_->history_url(),
       "--batch-time=-1s"},
      {}, log);
  ASSERT_TRUE(negative.ok()) << negative.status();
  ASSERT_EQ(negative->Wait(absl::Seconds(60)).value_or(-1), kExitUsage) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "--batch-time must not be negative"))
      << ReadFile(log);
}

TEST_F(LogTreeTest, TheServiceKeepsTheTreeAndItsProofsVerify) {
  const std::string url = live_->history_url();
  std::mt19937_64 rng(20261207);
  std::vector<TreeHead> heads;
  int64_t rows = 0;
  for (int round = 0; round < 12; ++round) {
    const int bookings = 1 + static_cast<int>(rng() % 40);
    for (int b = 0; b < bookings; ++b) {
      const int n = 1 + static_cast<int>(rng() % 6);
      IngestAll(live_->history_target(),
                Chain(absl::StrCat("live-", round, "-", b), 1, n, 10000 * round + 100 * b));
      rows += n;
    }
    ASSERT_TRUE(WaitFor([&] { return Head(url).size == static_cast<uint64_t>(rows); },
                        absl::Seconds(60), "the tree to hold every stored row")
                    .ok())
        << live_->Logs();
    heads.push_back(Head(url));
  }
  const std::vector<tlog::Hash> leaves = ExpectedLeaves(url);
  const TreeHead now = heads.back();
  ASSERT_EQ(now.root, tlog::RootOf(leaves));
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  for (int i = 0; i < 100; ++i) {
    const TreeHead& at = heads[rng() % heads.size()];
    const uint64_t index = rng() % at.size;
    absl::StatusOr<std::vector<tlog::Hash>> proof = StoredInclusionProof(txn, index, at.size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_TRUE(tlog::VerifyInclusion(leaves[index], index, at.size, *proof, at.root).ok())
        << index << " of " << at.size;
    absl::StatusOr<std::vector<tlog::Hash>> consistency =
        StoredConsistencyProof(txn, at.size, now.size);
    ASSERT_TRUE(consistency.ok()) << consistency.status();
    EXPECT_TRUE(tlog::VerifyConsistency(at.size, now.size, at.root, now.root, *consistency).ok());
  }
  // A leaf index names its row.
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "BookingStatusHistoryLeaf" l
                               JOIN "BookingStatusHistory" h ON h.id = l."historyId")"),
            rows);
}

TEST_F(LogTreeTest, TheTreeIsNotRewrittenAndAnAlteredOneIsNotExtended) {
  const std::string url = fold_->history_url();
  AddQueuedRows(url, "tree-", 300);
  ASSERT_TRUE(IntegrateAll(url).ok());
  auto error_of = [&](const std::string& sql) {
    try {
      Exec(url, sql);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_TRUE(absl::StrContains(
      error_of(R"(UPDATE "BookingStatusHistoryTile" SET hashes = sha256('x') WHERE level = 0
                  AND "index" = 0)"),
      "a tile only grows"));
  EXPECT_TRUE(absl::StrContains(error_of(R"(DELETE FROM "BookingStatusHistoryTile")"),
                                "a tile only grows"));
  EXPECT_TRUE(absl::StrContains(error_of(R"(TRUNCATE "BookingStatusHistoryLeaf")"), "append only"));
  EXPECT_TRUE(
      absl::StrContains(error_of(R"(DELETE FROM "BookingStatusHistoryLeaf")"), "append only"));
  // A superuser rewrites the first hash of the last level-0 tile (the tree's
  // right edge, which every append reads) behind the trigger's back. (A
  // full tile rewritten is found by a proof that reads it: a client's, the
  // checkpointer's consistency check, history-verify's whole-store check.)
  Exec(url, R"(ALTER TABLE "BookingStatusHistoryTile" DISABLE TRIGGER
                 "BookingStatusHistoryTile_append_only";
               UPDATE "BookingStatusHistoryTile"
                 SET hashes = sha256('forged') || substring(hashes FROM 33)
                 WHERE level = 0 AND "index" = (SELECT max("index") FROM
                                                "BookingStatusHistoryTile" WHERE level = 0);
               ALTER TABLE "BookingStatusHistoryTile" ENABLE TRIGGER
                 "BookingStatusHistoryTile_append_only")");
  const TreeHead before = Head(url);
  AddQueuedRows(url, "after-forgery-", 1);
  pqxx::connection conn(url);
  absl::StatusOr<Integrated> refused = IntegrateRows(conn, 10);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "altered")) << refused.status();
  const TreeHead after = Head(url);
  EXPECT_EQ(after.size, before.size);
  EXPECT_EQ(after.root, before.root);

  // A row the feed names deleted (a superuser, triggers off) before the tree
  // took it: refused by name, not passed over (its feed row is read first).
  AddQueuedRows(url, "gone-", 1);
  Exec(url, R"(SET session_replication_role = replica;
               DELETE FROM "BookingStatusHistory" WHERE "bookingId" = 'gone-1')");
  absl::StatusOr<Integrated> gone = IntegrateRows(conn, 10);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kDataLoss) << gone.status();
  EXPECT_TRUE(absl::StrContains(gone.status().message(), "which is not in")) << gone.status();
  EXPECT_EQ(Head(url).size, before.size);
}

}  // namespace
}  // namespace booking::testing
