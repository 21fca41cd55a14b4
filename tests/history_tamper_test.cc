// Tamper evidence: rows hash-chained per booking, checkpoints signed with
// Ed25519. A superuser who disables the immutability trigger and edits,
// deletes, inserts or swaps rows is caught by history-verify (offline,
// against a trusted checkpoint line) and by VerifyHistory, each naming the
// booking and sequence; a client checks VerifyHistory's proof itself; an
// untouched store of 100,000 rows verifies clean.
#include <sys/wait.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "history-service/checkpoint.h"
#include "history-service/row_content.h"
#include "history-service/verify_booking.h"
#include "tests/support/history_calls.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

struct CommandRun {
  int code = -1;
  std::string out;
};

// history-verify with `args`, its exit code and output (stderr too).
CommandRun HistoryVerify(const std::string& args) {
  CommandRun run;
  FILE* p = popen(absl::StrCat(HISTORY_VERIFY_BIN, " ", args, " 2>&1").c_str(), "r");
  if (p == nullptr) return run;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) run.out.append(buf, n);
  const int status = pclose(p);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

const char* const kPath[] = {"PENDING_PAYMENT", "CONFIRMED", "PICKUP_ASSIGNED", "PICKED_UP",
                             "AT_WORKSHOP"};

// `bookings` bookings named `prefix`-N, each with `events` events, through
// the real Ingest in batches of about 500.
void IngestStories(const std::string& target, const std::string& prefix, int bookings, int events,
                   int64_t first_id) {
  IngestClient client(target);
  std::vector<history::v1::StatusChangeEvent> batch;
  int64_t id = first_id;
  for (int b = 0; b < bookings; ++b) {
    for (int s = 1; s <= events; ++s) {
      batch.push_back(StatusEvent(EventId(id++), absl::StrCat(prefix, "-", b), s,
                                  s == 1 ? "" : kPath[s - 2], kPath[s - 1]));
    }
    if (batch.size() >= 500 || b + 1 == bookings) {
      auto ack = client.Send(batch);
      ASSERT_TRUE(ack.ok()) << ack.status();
      ASSERT_EQ(ack->stored(), static_cast<int>(batch.size()));
      batch.clear();
    }
  }
}

class HistoryTamperTest : public PgSuite {
 protected:
  // A set whose history-service signs a checkpoint every 200 ms.
  static std::unique_ptr<ServiceSet> SigningSet(const std::string& prefix) {
    auto set = ServiceSet::Create(*pg_, prefix);
    EXPECT_TRUE(set.ok()) << set.status();
    if (!set.ok()) return nullptr;
    const std::string key = absl::StrCat((*set)->log_dir(), "/checkpoint.key");
    CommandRun keygen = HistoryVerify(absl::StrCat("keygen --out ", key));
    EXPECT_EQ(keygen.code, 0) << keygen.out;
    EXPECT_TRUE(
        (*set)->StartHistory({"--checkpoint-key", key, "--checkpoint-interval", "200ms"}).ok())
        << (*set)->Logs();
    return *std::move(set);
  }
  static std::string PublicKey(const ServiceSet& set) {
    return absl::StrCat(set.log_dir(), "/checkpoint.key.pub");
  }
  // Waits for a checkpoint that covers `rows` rows; its line, as
  // `history-verify checkpoint` prints it.
  static std::string CheckpointCovering(const ServiceSet& set, int64_t rows) {
    const absl::Status covered = WaitFor(
        [&] {
          return QueryCount(set.history_url(),
                            R"(SELECT COALESCE(max("rowCount"), 0) FROM "HistoryCheckpoint")") >=
                 rows;
        },
        absl::Seconds(60), absl::StrCat("a checkpoint of ", rows, " rows"),
        absl::Milliseconds(100));
    if (!covered.ok()) return "";
    CommandRun line = HistoryVerify(absl::StrCat("checkpoint --database-url '", set.history_url(),
                                                 "' --public-key ", PublicKey(set)));
    EXPECT_EQ(line.code, 0) << line.out;
    return line.out;
  }
  static history::v1::VerifyHistoryResponse VerifyHistory(const ServiceSet& set,
                                                          const std::string& booking) {
    return VerifyHistoryOf(set.history_target(), booking);
  }

  // Six bookings of five events and one with a reason and metadata, through
  // Ingest; the migration's SQL form of the chain (which hashes rows written
  // before it) gives the very hashes history-service computed.
  static void StoreStories(const ServiceSet& set) {
    IngestStories(set.history_target(), "t", 6, 5, 1);
    {
      history::v1::StatusChangeEvent e = StatusEvent(EventId(99), "t-meta", 1, "", "CONFIRMED");
      e.set_reason("paid \"in full\", ünïcode\n");
      (*e.mutable_metadata()->mutable_fields())["amount"].set_number_value(12.5);
      (*e.mutable_metadata()->mutable_fields())["by"].set_string_value("card");
      e.mutable_change_time()->set_nanos(123456789);  // kept to the millisecond
      auto ack = IngestClient(set.history_target()).Send({e});
      ASSERT_TRUE(ack.ok());
      ASSERT_EQ(ack->stored(), 1);
    }
    // The migration's SQL form of the chain (which hashes rows written before
    // it) gives the very hashes history-service computed.
    EXPECT_EQ(QueryCount(set.history_url(), R"(
        SELECT count(*) FROM (
          SELECT "rowHash", sha256(COALESCE(lag("rowHash") OVER w, decode(repeat('00', 32), 'hex'))
                                   || "BookingStatusHistory_canonical"(h)) AS again
          FROM "BookingStatusHistory" h
          WINDOW w AS (PARTITION BY "bookingId" ORDER BY sequence)) x
        WHERE "rowHash" IS DISTINCT FROM again)"),
              0);
  }

  // A checkpoint covering all 31 rows written to a file; history-verify
  // passes the store with it (`*verify`) and on its chains alone
  // (`*chains_only`).
  static void VerifyClean(const ServiceSet& set, std::string* verify, std::string* chains_only) {
    const std::string trusted = CheckpointCovering(set, 31);
    ASSERT_FALSE(trusted.empty()) << set.Logs();
    const std::string checkpoint_file = set.log_dir() + "/trusted.checkpoint";
    {
      FILE* f = std::fopen(checkpoint_file.c_str(), "w");
      ASSERT_NE(f, nullptr);
      std::fputs(trusted.c_str(), f);
      std::fclose(f);
    }
    *verify = absl::StrCat("verify --database-url '", set.history_url(), "' --public-key ",
                           PublicKey(set), " --checkpoint ", checkpoint_file);
    CommandRun clean = HistoryVerify(*verify);
    ASSERT_EQ(clean.code, 0) << clean.out;
    EXPECT_NE(clean.out.find("verified: 31 rows of 7 bookings"), std::string::npos) << clean.out;
    // The chains alone, without a key or checkpoint.
    *chains_only = absl::StrCat("verify --database-url '", set.history_url(), "'");
    CommandRun clean_chains = HistoryVerify(*chains_only);
    ASSERT_EQ(clean_chains.code, 0) << clean_chains.out;
    EXPECT_NE(clean_chains.out.find("verified: 31 rows of 7 bookings, hash chains only"),
              std::string::npos)
        << clean_chains.out;
  }

  // A client checks the proof of an untouched booking on its own.
  static void ExpectProofChecks(const ServiceSet& set) {
    history::v1::VerifyHistoryResponse proof = VerifyHistory(set, "t-5");
    EXPECT_TRUE(proof.verified()) << proof.problem();
    EXPECT_EQ(proof.checkpoint_sequence(), 5);
    auto key = booking::FromHex(std::string(absl::StripAsciiWhitespace(
        QueryValue(set.history_url(), R"(SELECT encode("publicKey", 'hex') FROM "HistoryCheckpoint"
                                          ORDER BY id DESC LIMIT 1)"))));
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(CheckVerifyResponse(proof, *key), "");
  }

  // The superuser's edits, with the immutability trigger out of the way.
  static void Tamper(const ServiceSet& set) {
    Exec(set.history_url(), R"(
      ALTER TABLE "BookingStatusHistory" DISABLE TRIGGER "BookingStatusHistory_no_update_delete";
      UPDATE "BookingStatusHistory" SET "toStatus" = 'CANCELLED'
        WHERE "bookingId" = 't-0' AND sequence = 2;
      DELETE FROM "BookingStatusHistory" WHERE "bookingId" = 't-1' AND sequence = 3;
      INSERT INTO "BookingStatusHistory" ("eventId", "bookingId", sequence, "fromStatus",
                                          "toStatus", "changedBy", "rowHash")
        SELECT gen_random_uuid(), 't-2', 6, 'AT_WORKSHOP', 'CANCELLED', 'ceo', "rowHash"
        FROM "BookingStatusHistory" WHERE "bookingId" = 't-2' AND sequence = 5;
      UPDATE "BookingStatusHistory" SET sequence = sequence + 100
        WHERE "bookingId" = 't-3' AND sequence IN (2, 3);
      UPDATE "BookingStatusHistory" SET sequence = 5 - (sequence - 100)
        WHERE "bookingId" = 't-3' AND sequence > 100;
      DELETE FROM "BookingStatusHistory" WHERE "bookingId" = 't-4' AND sequence = 5;
      ALTER TABLE "BookingStatusHistory" ENABLE TRIGGER "BookingStatusHistory_no_update_delete";)");
  }

  // Each edit named by history-verify (with the checkpoint and on the
  // chains alone) and by VerifyHistory; the untouched booking still passes.
  static void ExpectEditsNamed(const ServiceSet& set, const std::string& verify,
                               const std::string& chains_only) {
    CommandRun caught = HistoryVerify(verify);
    EXPECT_EQ(caught.code, 1) << caught.out;
    for (const char* named :
         {"booking t-0 sequence 2:", "booking t-1 sequence 4:", "booking t-2 sequence 6:",
          "booking t-3 sequence 2:", "booking t-4 sequence 5:"}) {
      EXPECT_NE(caught.out.find(absl::StrCat("NOT VERIFIED: ", named)), std::string::npos)
          << named << "\n"
          << caught.out;
    }
    EXPECT_EQ(caught.out.find("booking t-5 "), std::string::npos) << caught.out;
    // The chains alone name every edit but the deleted last row (t-4), which
    // only a signed head shows.
    CommandRun chains = HistoryVerify(chains_only);
    EXPECT_EQ(chains.code, 1) << chains.out;
    for (const char* named : {"booking t-0 sequence 2:", "booking t-1 sequence 4:",
                              "booking t-2 sequence 6:", "booking t-3 sequence 2:"}) {
      EXPECT_NE(chains.out.find(absl::StrCat("NOT VERIFIED: ", named)), std::string::npos)
          << named << "\n"
          << chains.out;
    }
    EXPECT_EQ(chains.out.find("booking t-4 "), std::string::npos) << chains.out;
    CommandRun one = HistoryVerify(absl::StrCat(verify, " --booking t-1"));
    EXPECT_EQ(one.code, 1);
    EXPECT_NE(one.out.find("NOT VERIFIED: booking t-1 sequence 4:"), std::string::npos) << one.out;

    const std::pair<const char*, int64_t> expected[] = {
        {"t-0", 2}, {"t-1", 4}, {"t-2", 6}, {"t-3", 2}, {"t-4", 5}};
    for (const auto& [booking, sequence] : expected) {
      history::v1::VerifyHistoryResponse r = VerifyHistory(set, booking);
      EXPECT_FALSE(r.verified()) << booking;
      EXPECT_EQ(r.first_bad_sequence(), sequence) << booking << ": " << r.problem();
    }
    EXPECT_TRUE(VerifyHistory(set, "t-5").verified());
  }
};

TEST_F(HistoryTamperTest, SuperuserTamperingIsNamedByHistoryVerifyAndVerifyHistory) {
  std::unique_ptr<ServiceSet> set = SigningSet("tamper");
  ASSERT_NE(set, nullptr);
  ASSERT_NO_FATAL_FAILURE(StoreStories(*set));
  std::string verify, chains_only;
  ASSERT_NO_FATAL_FAILURE(VerifyClean(*set, &verify, &chains_only));
  ASSERT_NO_FATAL_FAILURE(ExpectProofChecks(*set));
  Tamper(*set);
  // The signer will not vouch for the altered store.
  ASSERT_EQ(
      WaitFor([&] { return set->Logs().find("checkpoint refused") != std::string::npos; },
              absl::Seconds(10), "\"checkpoint refused\" in the log", absl::Milliseconds(100)),
      absl::OkStatus())
      << set->Logs();

  ExpectEditsNamed(*set, verify, chains_only);
}

TEST_F(HistoryTamperTest, UntouchedStoreOfOneHundredThousandRowsVerifiesClean) {
  std::unique_ptr<ServiceSet> set = SigningSet("clean");
  ASSERT_NE(set, nullptr);
  const absl::Time start = absl::Now();
  IngestStories(set->history_target(), "c", 20000, 5, 1);
  std::printf("ingested 100000 rows in %s\n", absl::FormatDuration(absl::Now() - start).c_str());
  ASSERT_FALSE(CheckpointCovering(*set, 100000).empty()) << set->Logs();
  const absl::Time verify_start = absl::Now();
  CommandRun clean = HistoryVerify(absl::StrCat("verify --database-url '", set->history_url(),
                                                "' --public-key ", PublicKey(*set)));
  std::printf("verified in %s\n", absl::FormatDuration(absl::Now() - verify_start).c_str());
  EXPECT_EQ(clean.code, 0) << clean.out;
  EXPECT_NE(clean.out.find("verified: 100000 rows of 20000 bookings"), std::string::npos)
      << clean.out;
}

}  // namespace
}  // namespace booking::testing
