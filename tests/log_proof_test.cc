// What a client verifies with the log (issue 22), against a real
// history-service signing log checkpoints every 100 ms:
// - VerifyHistory returns the newest C2SP log checkpoint and an RFC 9162
//   inclusion proof for every row it covers; the client library
//   (CheckVerifyResponse) checks the note's Ed25519 signature under the
//   log's origin and every proof, and refuses an altered proof or note;
// - a superuser who rewrites a row and recomputes the booking's whole chain
//   (so the chain alone checks out) is named by VerifyHistory and by the
//   client, through the leaf the signed tree holds; a deleted last row is
//   named by the leaf it left; `history-verify verify` names both offline
//   (whole store and --booking), and finds by the signed root a row rewritten
//   together with its leaf hash in the tiles;
// - `history-verify log` keeps a witness file: it trusts the first
//   checkpoint, accepts one that extends it, and refuses (exit 1, file
//   unchanged) a log rolled back below what it saw and a checkpoint of a
//   forked log, each signed with the log's own key (a stolen key cannot
//   rewrite what a witness saw);
// - over gRPC, GetLogCheckpoint and GetConsistencyProof give a witness what
//   common/tlog's CheckNextCheckpoint needs; bad sizes are refused naming
//   the field.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/note_key.h"
#include "common/tlog/witness.h"
#include "gtest/gtest.h"
#include "history-service/checkpoint.h"
#include "history-service/row_content.h"
#include "history-service/verify_booking.h"
#include "pqxx/pqxx"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

constexpr char kOrigin[] = "history.booking.internal/log";

class LogProofTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::Create(*pg_, "logproof");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    key_file_ = set_->log_dir() + "/checkpoint.key";
    ASSERT_TRUE(WriteKeyPair(key_file_).ok());
    ASSERT_TRUE(
        set_->StartHistory({"--checkpoint-key", key_file_, "--log-checkpoint-interval", "100ms"})
            .ok())
        << set_->Logs();
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(set_, nullptr);
  }

  static std::string PublicKey() {
    absl::StatusOr<SigningKey> key = LoadSigningKey(key_file_);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? key->public_key : "";
  }
  static tlog::NoteSigner Signer() {
    absl::StatusOr<SigningKey> key = LoadSigningKey(key_file_);
    absl::StatusOr<tlog::NoteSigner> s =
        tlog::NoteSigner::FromSeed(kOrigin, key->secret.substr(0, 32));
    return *s;
  }
  // Waits for a log checkpoint covering `rows` rows.
  static void WaitForCheckpoint(int64_t rows) {
    ASSERT_TRUE(WaitFor(
                    [&] {
                      return QueryCount(
                                 set_->history_url(),
                                 R"(SELECT COALESCE(max(size), 0) FROM "HistoryLogCheckpoint")") >=
                             rows;
                    },
                    absl::Seconds(60), absl::StrCat("a log checkpoint of ", rows, " rows"))
                    .ok())
        << set_->Logs();
  }
  static history::v1::VerifyHistoryResponse Verify(const std::string& booking) {
    auto stub = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    history::v1::VerifyHistoryRequest request;
    request.set_booking_id(booking);
    history::v1::VerifyHistoryResponse response;
    const grpc::Status s = stub->VerifyHistory(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  // `history-verify log` with the witness file, reading the store or asking
  // history-service over gRPC; its exit code and output.
  enum class Via { kStore, kServer };
  static std::pair<int, std::string> Witness(const std::string& file, Via via) {
    const std::string pub = key_file_ + ".pub";
    static int calls = 0;  // a file per call: RunCommand appends
    const std::string log = absl::StrCat(set_->log_dir(), "/witness-", ++calls, ".out");
    std::vector<std::string> args = {HISTORY_VERIFY_BIN, "log", "--public-key", pub,
                                     "--witness",        file};
    if (via == Via::kStore) {
      args.insert(args.end(), {"--database-url", set_->history_url()});
    } else {
      args.insert(args.end(), {"--server", set_->history_target(), "--insecure-plaintext"});
    }
    absl::StatusOr<int> code = RunCommand(args, {}, log);
    EXPECT_TRUE(code.ok()) << code.status();
    return {code.ok() ? *code : -1, ReadFile(log)};
  }

  // `history-verify verify` against the store's newest log checkpoint, then
  // `extra` (e.g. --booking B); its exit code and output.
  static std::pair<int, std::string> VerifyOffline(std::vector<std::string> extra = {}) {
    static int calls = 0;  // a file per call: RunCommand appends
    const std::string log = absl::StrCat(set_->log_dir(), "/verify-", ++calls, ".out");
    std::vector<std::string> args = {HISTORY_VERIFY_BIN,  "verify",       "--database-url",
                                     set_->history_url(), "--public-key", key_file_ + ".pub"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<int> code = RunCommand(args, {}, log);
    EXPECT_TRUE(code.ok()) << code.status();
    return {code.ok() ? *code : -1, ReadFile(log)};
  }

  inline static std::unique_ptr<ServiceSet> set_;
  inline static std::string key_file_;
};

TEST_F(LogProofTest, EveryCoveredRowComesWithAProofTheClientChecks) {
  for (int b = 0; b < 30; ++b)
    IngestAll(set_->history_target(), Chain(absl::StrCat("p-", b), 1, 4, 1000 * b));
  WaitForCheckpoint(120);
  history::v1::VerifyHistoryResponse r = Verify("p-17");
  ASSERT_TRUE(r.verified()) << r.problem();
  ASSERT_TRUE(r.has_log_checkpoint());
  EXPECT_TRUE(absl::StartsWith(r.log_checkpoint().note(), absl::StrCat(kOrigin, "\n")))
      << r.log_checkpoint().note();
  ASSERT_EQ(r.rows_size(), 4);
  for (const history::v1::VerifiedRow& row : r.rows()) {
    ASSERT_TRUE(row.has_inclusion()) << row.entry().sequence();
    EXPECT_EQ(row.inclusion().tree_size(), r.log_checkpoint().size());
  }
  // The note verifies with the key under its origin, independently.
  absl::StatusOr<tlog::NoteVerifier> v = tlog::NoteVerifier::FromPublicKey(kOrigin, PublicKey());
  ASSERT_TRUE(v.ok());
  absl::StatusOr<tlog::Checkpoint> c = tlog::OpenCheckpoint(r.log_checkpoint().note(), {*v});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(static_cast<int64_t>(c->size), r.log_checkpoint().size());
  EXPECT_EQ(CheckVerifyResponse(r, PublicKey()), "");
  // Offline, the whole store and one booking: every covered entry is its row.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--booking", "p-17"}}) {
    const auto [code, out] = VerifyOffline(extra);
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(absl::StrContains(out, "checked against the log checkpoint of")) << out;
  }
  // Altered in transit: the entry shown, a proof's hash, another row's
  // canonical bytes, the note.
  history::v1::VerifyHistoryResponse bad = r;
  bad.mutable_rows(1)->mutable_entry()->set_to_status("CANCELLED");
  EXPECT_TRUE(absl::StrContains(CheckVerifyResponse(bad, PublicKey()),
                                "sequence 2: the entry shows to_status CANCELLED"))
      << CheckVerifyResponse(bad, PublicKey());
  bad = r;
  (*bad.mutable_rows(0)->mutable_entry()->mutable_metadata()->mutable_fields())["forged"]
      .set_bool_value(true);
  EXPECT_TRUE(absl::StrContains(CheckVerifyResponse(bad, PublicKey()), "shows metadata"))
      << CheckVerifyResponse(bad, PublicKey());
  bad = r;
  bad.mutable_rows(2)->mutable_inclusion()->mutable_hashes(0)->at(0) ^= 1;
  EXPECT_TRUE(
      absl::StrContains(CheckVerifyResponse(bad, PublicKey()), "sequence 3: its inclusion"));
  bad = r;
  bad.mutable_rows(1)->mutable_inclusion()->set_leaf_index(r.rows(0).inclusion().leaf_index());
  EXPECT_TRUE(
      absl::StrContains(CheckVerifyResponse(bad, PublicKey()), "sequence 2: its inclusion"));
  bad = r;
  std::string note = r.log_checkpoint().note();
  note[note.find('\n') + 1] = note[note.find('\n') + 1] == '9' ? '8' : '9';  // the size
  bad.mutable_log_checkpoint()->set_note(note);
  EXPECT_TRUE(absl::StrContains(CheckVerifyResponse(bad, PublicKey()), "does not verify"));
}

TEST_F(LogProofTest, ARowRewrittenWithItsWholeChainIsNamedThroughTheLog) {
  IngestAll(set_->history_target(), Chain("rewritten", 1, 5, 90000));
  const int64_t rows =
      QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")");
  WaitForCheckpoint(rows);
  ASSERT_TRUE(Verify("rewritten").verified());
  // The superuser edits sequence 2 and recomputes the chain from there on,
  // as the migration's SQL computes it: the chain alone checks out.
  Exec(set_->history_url(), R"(
    ALTER TABLE "BookingStatusHistory" DISABLE TRIGGER "BookingStatusHistory_no_update_delete";
    UPDATE "BookingStatusHistory" SET "changedBy" = 'someone else'
      WHERE "bookingId" = 'rewritten' AND sequence = 2;
    DO $$
    BEGIN
      FOR s IN 2..5 LOOP
        UPDATE "BookingStatusHistory" h SET "rowHash" = sha256(
          (SELECT p."rowHash" FROM "BookingStatusHistory" p
           WHERE p."bookingId" = 'rewritten' AND p.sequence = s - 1)
          || "BookingStatusHistory_canonical"(h))
        WHERE "bookingId" = 'rewritten' AND sequence = s;
      END LOOP;
    END $$;
    ALTER TABLE "BookingStatusHistory" ENABLE TRIGGER "BookingStatusHistory_no_update_delete";)");
  history::v1::VerifyHistoryResponse r = Verify("rewritten");
  EXPECT_FALSE(r.verified());
  EXPECT_EQ(r.first_bad_sequence(), 2) << r.problem();
  EXPECT_TRUE(absl::StrContains(r.problem(), "rewritten after it was logged")) << r.problem();
  EXPECT_TRUE(absl::StrContains(CheckVerifyResponse(r, PublicKey()), "sequence 2: its inclusion"))
      << CheckVerifyResponse(r, PublicKey());
  // Offline: by the tile's leaf hash (whole store) and by the inclusion
  // proof (one booking); the chain alone would not see it.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--booking", "rewritten"}}) {
    const auto [code, out] = VerifyOffline(extra);
    EXPECT_EQ(code, 1) << out;
    EXPECT_TRUE(absl::StrContains(
        out, "NOT VERIFIED: booking rewritten sequence 2: the row is not the entry"))
        << out;
    EXPECT_FALSE(absl::StrContains(out, "sequence 3:")) << out;
  }
}

TEST_F(LogProofTest, ADeletedLastRowIsNamedThroughTheLeafItLeft) {
  IngestAll(set_->history_target(), Chain("deleted-last", 1, 3, 93000));
  WaitForCheckpoint(
      QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")"));
  ASSERT_TRUE(Verify("deleted-last").verified());
  Exec(set_->history_url(), R"(
    ALTER TABLE "BookingStatusHistory" DISABLE TRIGGER "BookingStatusHistory_no_update_delete";
    DELETE FROM "BookingStatusHistory" WHERE "bookingId" = 'deleted-last' AND sequence = 3;
    ALTER TABLE "BookingStatusHistory" ENABLE TRIGGER "BookingStatusHistory_no_update_delete";)");
  // The chain of the two rows left is whole; the leaf of the third is not.
  history::v1::VerifyHistoryResponse r = Verify("deleted-last");
  EXPECT_FALSE(r.verified());
  EXPECT_EQ(r.first_bad_sequence(), 3) << r.problem();
  EXPECT_TRUE(absl::StrContains(r.problem(), "is gone from the store")) << r.problem();
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--booking", "deleted-last"}}) {
    const auto [code, out] = VerifyOffline(extra);
    EXPECT_EQ(code, 1) << out;
    EXPECT_TRUE(absl::StrContains(out,
                                  "NOT VERIFIED: booking deleted-last sequence 3: the row "
                                  "the log holds at leaf"))
        << out;
  }
}

TEST_F(LogProofTest, TilesRewrittenWithTheRowAreFoundByTheSignedRoot) {
  IngestAll(set_->history_target(), Chain("tile-forged", 1, 2, 99000));
  WaitForCheckpoint(
      QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")"));
  // The superuser rewrites the row, its chain and its leaf hash in the tile:
  // each row matches its tile, only the signed root tells. Put back after
  // (the service's tree and the later tests go on from the real one).
  const std::string keep = R"(SELECT encode(hashes, 'hex') FROM "BookingStatusHistoryTile"
      WHERE level = 0 AND "index" = (SELECT "leafIndex" / 256 FROM "BookingStatusHistoryLeaf"
        WHERE "bookingId" = 'tile-forged' AND sequence = 2))";
  const std::string tile = QueryValue(set_->history_url(), keep);
  const std::string row_hash = QueryValue(set_->history_url(), R"(SELECT encode("rowHash", 'hex')
      FROM "BookingStatusHistory" WHERE "bookingId" = 'tile-forged' AND sequence = 2)");
  const std::string changed_by = QueryValue(set_->history_url(), R"(SELECT "changedBy"
      FROM "BookingStatusHistory" WHERE "bookingId" = 'tile-forged' AND sequence = 2)");
  Exec(set_->history_url(), R"(
    SET session_replication_role = replica;
    UPDATE "BookingStatusHistory" SET "changedBy" = 'forger'
      WHERE "bookingId" = 'tile-forged' AND sequence = 2;
    UPDATE "BookingStatusHistory" h SET "rowHash" = sha256(
        (SELECT p."rowHash" FROM "BookingStatusHistory" p
         WHERE p."bookingId" = 'tile-forged' AND p.sequence = 1)
        || "BookingStatusHistory_canonical"(h))
      WHERE "bookingId" = 'tile-forged' AND sequence = 2;
    UPDATE "BookingStatusHistoryTile" t SET hashes = overlay(t.hashes PLACING
        sha256('\x00'::bytea || "BookingStatusHistory_canonical"(h)) FROM
        (l."leafIndex" % 256)::int * 32 + 1 FOR 32)
      FROM "BookingStatusHistoryLeaf" l JOIN "BookingStatusHistory" h ON h.id = l."historyId"
      WHERE l."bookingId" = 'tile-forged' AND l.sequence = 2
        AND t.level = 0 AND t."index" = l."leafIndex" / 256;)");
  const auto [code, out] = VerifyOffline();
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "entries and tiles were rewritten together")) << out;
  EXPECT_FALSE(absl::StrContains(out, "booking tile-forged")) << out;
  Exec(set_->history_url(),
       absl::StrCat(R"(SET session_replication_role = replica;
         UPDATE "BookingStatusHistory" SET "changedBy" = ')",
                    changed_by, R"(', "rowHash" = decode(')", row_hash,
                    R"(', 'hex') WHERE "bookingId" = 'tile-forged' AND sequence = 2;
         UPDATE "BookingStatusHistoryTile" SET hashes = decode(')",
                    tile, R"(', 'hex') WHERE level = 0 AND "index" = (SELECT "leafIndex" / 256
           FROM "BookingStatusHistoryLeaf" WHERE "bookingId" = 'tile-forged' AND sequence = 2))"));
  EXPECT_EQ(QueryValue(set_->history_url(), keep), tile);
  const std::string after = VerifyOffline().second;
  EXPECT_FALSE(absl::StrContains(after, "rewritten together")) << after;
}

TEST_F(LogProofTest, AWitnessOverGrpcGetsCheckpointsAndConsistencyProofs) {
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  auto checkpoint = [&] {
    grpc::ClientContext context;
    history::v1::LogCheckpoint c;
    const grpc::Status s = stub->GetLogCheckpoint(&context, {}, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  };
  auto prove = [&](int64_t old_size, int64_t new_size, history::v1::ConsistencyProof* out) {
    grpc::ClientContext context;
    history::v1::GetConsistencyProofRequest request;
    request.set_old_size(old_size);
    request.set_new_size(new_size);
    return stub->GetConsistencyProof(&context, request, out);
  };
  IngestAll(set_->history_target(), Chain("grpc-witness", 1, 2, 97000));
  WaitForCheckpoint(
      QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")"));
  const history::v1::LogCheckpoint first = checkpoint();
  IngestAll(set_->history_target(), Chain("grpc-witness-more", 1, 5, 98000));
  WaitForCheckpoint(first.size() + 5);
  const history::v1::LogCheckpoint second = checkpoint();
  ASSERT_GT(second.size(), first.size());
  history::v1::ConsistencyProof proof;
  ASSERT_TRUE(prove(first.size(), second.size(), &proof).ok());
  std::vector<tlog::Hash> hashes;
  for (const std::string& h : proof.hashes()) hashes.push_back(*tlog::HashFromBytes(h));
  absl::StatusOr<tlog::NoteVerifier> v = tlog::NoteVerifier::FromPublicKey(kOrigin, PublicKey());
  ASSERT_TRUE(v.ok());
  absl::StatusOr<tlog::Checkpoint> trusted = tlog::OpenCheckpoint(first.note(), {*v});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  absl::StatusOr<tlog::Checkpoint> next =
      tlog::CheckNextCheckpoint(*trusted, second.note(), hashes, {*v});
  EXPECT_TRUE(next.ok()) << next.status();
  // A proof for other sizes does not pass for these.
  ASSERT_TRUE(prove(1, second.size(), &proof).ok());
  hashes.clear();
  for (const std::string& h : proof.hashes()) hashes.push_back(*tlog::HashFromBytes(h));
  EXPECT_FALSE(tlog::CheckNextCheckpoint(*trusted, second.note(), hashes, {*v}).ok());
  // Equal sizes: nothing to prove. Refusals name the field.
  EXPECT_TRUE(prove(second.size(), second.size(), &proof).ok());
  EXPECT_EQ(proof.hashes_size(), 0);
  EXPECT_EQ(prove(0, second.size(), &proof).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status backwards = prove(second.size(), first.size(), &proof);
  EXPECT_EQ(backwards.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(backwards.error_message(), "new_size"))
      << backwards.error_message();
  const grpc::Status beyond = prove(1, second.size() + 1000000, &proof);
  EXPECT_EQ(beyond.error_code(), grpc::StatusCode::OUT_OF_RANGE) << beyond.error_message();
  EXPECT_TRUE(absl::StrContains(beyond.error_message(), "newest log checkpoint"))
      << beyond.error_message();
}

TEST_F(LogProofTest, AWitnessThatCannotReachTheServerSaysSoAndKeepsNothing) {
  const std::string file = set_->log_dir() + "/unreached.checkpoint";
  const std::string log = set_->log_dir() + "/unreached.out";
  // Port 1 on loopback: nothing listens there.
  absl::StatusOr<int> code =
      RunCommand({HISTORY_VERIFY_BIN, "log", "--server", "127.0.0.1:1", "--insecure-plaintext",
                  "--timeout", "2s", "--public-key", key_file_ + ".pub", "--witness", file},
                 {}, log);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3) << ReadFile(log);
  EXPECT_TRUE(absl::StrContains(ReadFile(log), "GetLogCheckpoint")) << ReadFile(log);
  EXPECT_FALSE(std::ifstream(file).good()) << "a witness file was written";
  // --server is the witness's alone: verify reads the store.
  const std::string usage_log = set_->log_dir() + "/server-verify.out";
  code = RunCommand({HISTORY_VERIFY_BIN, "verify", "--server", set_->history_target(),
                     "--insecure-plaintext", "--public-key", key_file_ + ".pub"},
                    {}, usage_log);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2) << ReadFile(usage_log);
  EXPECT_TRUE(absl::StrContains(ReadFile(usage_log), "--server is for `log` only"))
      << ReadFile(usage_log);
  // Flags it would otherwise ignore are refused (exit 2), the file untouched.
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"--server", set_->history_target(), "--database-url", set_->history_url()},
       "two sources of the log"},
      {{"--database-url", set_->history_url(), "--token", "t"}, "--token is for `log --server`"},
      {{"--server", set_->history_target(), "--timeout", "0s"}, "--timeout must be above 0"}};
  for (const auto& [flags, why] : refused) {
    const std::string out = absl::StrCat(set_->log_dir(), "/refused-", why.size(), ".out");
    std::vector<std::string> args = {
        HISTORY_VERIFY_BIN, "log", "--insecure-plaintext", "--public-key", key_file_ + ".pub",
        "--witness",        file};
    args.insert(args.end(), flags.begin(), flags.end());
    code = RunCommand(args, {}, out);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 2) << ReadFile(out);
    EXPECT_TRUE(absl::StrContains(ReadFile(out), why)) << ReadFile(out);
  }
  EXPECT_FALSE(std::ifstream(file).good()) << "a witness file was written";
}

// The size of the checkpoint a witness file holds (the note's second line):
// a query now could see a checkpoint signed since.
int64_t WitnessedSize(const std::string& file) {
  const std::vector<std::string> lines = absl::StrSplit(ReadFile(file), '\n');
  int64_t size = 0;
  EXPECT_TRUE(lines.size() > 1 && absl::SimpleAtoi(lines[1], &size)) << ReadFile(file);
  return size;
}

// Last: it leaves a forged newest checkpoint in the store. Each step by two
// witnesses: one reads the store, one asks history-service over gRPC.
TEST_F(LogProofTest, TheWitnessRefusesAForkedOrRolledBackLog) {
  IngestAll(set_->history_target(), Chain("witnessed", 1, 3, 95000));
  const std::map<Via, std::string> files = {
      {Via::kStore, set_->log_dir() + "/witness.checkpoint"},
      {Via::kServer, set_->log_dir() + "/witness-grpc.checkpoint"}};
  for (const auto& [via, file] : files) {
    auto [first, first_out] = Witness(file, via);
    ASSERT_EQ(first, 0) << first_out;
    EXPECT_TRUE(absl::StrContains(first_out, "trusted as the first")) << first_out;
  }
  const int64_t seen =
      std::max(WitnessedSize(files.at(Via::kStore)), WitnessedSize(files.at(Via::kServer)));
  IngestAll(set_->history_target(), Chain("witnessed-more", 1, 3, 96000));
  WaitForCheckpoint(seen + 3);
  std::map<Via, std::string> witnessed;
  for (const auto& [via, file] : files) {
    const int64_t size = WitnessedSize(file);
    auto [second, second_out] = Witness(file, via);
    ASSERT_EQ(second, 0) << second_out;
    EXPECT_TRUE(
        absl::StrContains(second_out, absl::StrCat("extends the witnessed one of size ", size)))
        << second_out;
    witnessed[via] = ReadFile(file);
  }
  const int64_t now =
      QueryCount(set_->history_url(), R"(SELECT max(size) FROM "HistoryLogCheckpoint")");
  const tlog::NoteSigner signer = Signer();
  // A witness that saw a larger tree (signed with the log's key) than the
  // store's newest checkpoint: the log was rolled back.
  absl::StatusOr<std::string> larger = tlog::SignCheckpoint(
      {kOrigin, static_cast<uint64_t>(now + 500), tlog::LeafHash("x"), {}}, signer);
  ASSERT_TRUE(larger.ok());
  for (const Via via : {Via::kStore, Via::kServer}) {
    const std::string ahead = set_->log_dir() + "/ahead.checkpoint";
    std::ofstream(ahead) << *larger;
    auto [rolled, rolled_out] = Witness(ahead, via);
    EXPECT_EQ(rolled, 1) << rolled_out;
    EXPECT_TRUE(absl::StrContains(rolled_out, "does not extend")) << rolled_out;
    EXPECT_EQ(ReadFile(ahead), *larger);
  }
  // With the log's own key, the newest checkpoint in the store is of a tree
  // that does not extend what the witness holds (a fork).
  absl::StatusOr<std::string> fork = tlog::SignCheckpoint(
      {kOrigin, static_cast<uint64_t>(now + 1000), tlog::LeafHash("fork"), {}}, signer);
  ASSERT_TRUE(fork.ok());
  pqxx::connection conn(set_->history_url());
  Exec(set_->history_url(), absl::StrCat(R"(INSERT INTO "HistoryLogCheckpoint" (size, root, note)
                                            VALUES ()",
                                         now + 1000, ", sha256('fork'), ", conn.quote(*fork), ")"));
  for (const auto& [via, file] : files) {
    auto [forked, forked_out] = Witness(file, via);
    EXPECT_EQ(forked, 1) << forked_out;
    EXPECT_TRUE(absl::StrContains(forked_out, "does not extend")) << forked_out;
    EXPECT_EQ(ReadFile(file), witnessed[via]);
  }
}

}  // namespace
}  // namespace booking::testing
