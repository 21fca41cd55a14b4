// The history table refuses UPDATE, DELETE and TRUNCATE at the database
// level: for its owner, for a superuser, and for a service role that was
// even granted those privileges explicitly.
#include <string>

#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

class HistoryImmutableTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto services = ServiceSet::Create(*pg_, "immutable");  // runs migrator up
    ASSERT_TRUE(services.ok()) << services.status();
    url_ = (*services)->history_url();
    pqxx::connection conn(url_);
    pqxx::work txn(conn);
    txn.exec(R"(INSERT INTO "BookingStatusHistory"
                  ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
                VALUES (gen_random_uuid(), 'b-1', 1, NULL, 'CONFIRMED', 'tester'))");
    // The role a deployment would give history-service, over-granted on purpose.
    txn.exec("CREATE ROLE history_app LOGIN");
    txn.exec(
        R"(GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON "BookingStatusHistory" TO history_app)");
    txn.commit();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_FALSE(url_.empty()) << "the stores were not migrated";
  }

  static std::string AppUrl() {
    std::string url = url_;
    url.replace(url.find("postgres@"), 9, "history_app@");
    return url;
  }

  // The error PostgreSQL raised for `sql`, or "" when it succeeded.
  static std::string ErrorOf(const std::string& url, const std::string& sql) {
    try {
      pqxx::connection conn(url);
      pqxx::work txn(conn);
      txn.exec(sql);
      txn.commit();
      return "";
    } catch (const pqxx::sql_error& e) {
      return e.what();
    }
  }

  inline static std::string url_;
};

TEST_F(HistoryImmutableTest, UpdateDeleteAndTruncateFailForEveryRole) {
  for (const std::string& url : {url_, AppUrl()}) {
    SCOPED_TRACE(url);
    EXPECT_NE(ErrorOf(url, R"(UPDATE "BookingStatusHistory" SET "toStatus" = 'CANCELLED')")
                  .find("append-only: UPDATE"),
              std::string::npos);
    EXPECT_NE(ErrorOf(url, R"(DELETE FROM "BookingStatusHistory")").find("append-only: DELETE"),
              std::string::npos);
    EXPECT_NE(ErrorOf(url, R"(TRUNCATE "BookingStatusHistory")").find("append-only: TRUNCATE"),
              std::string::npos);
  }
  // Still exactly the one row, unchanged.
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  pqxx::result r = txn.exec(R"(SELECT count(*), min("toStatus") FROM "BookingStatusHistory")");
  EXPECT_EQ(r[0][0].as<int>(), 1);
  EXPECT_EQ(r[0][1].as<std::string>(), "CONFIRMED");
}

TEST_F(HistoryImmutableTest, InsertStillWorksForTheServiceRole) {
  EXPECT_EQ(ErrorOf(AppUrl(), R"(INSERT INTO "BookingStatusHistory"
                                   ("eventId", "bookingId", sequence, "toStatus", "changedBy")
                                 VALUES (gen_random_uuid(), 'b-2', 1, 'CONFIRMED', 'tester'))"),
            "");
}

TEST_F(HistoryImmutableTest, PublicHasNoUpdateOrDeletePrivilege) {
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  txn.exec("CREATE ROLE plain_reader LOGIN");
  pqxx::result r = txn.exec(
      R"(SELECT has_table_privilege('plain_reader', '"BookingStatusHistory"', 'UPDATE'),
                has_table_privilege('plain_reader', '"BookingStatusHistory"', 'DELETE'))");
  EXPECT_FALSE(r[0][0].as<bool>());
  EXPECT_FALSE(r[0][1].as<bool>());
}

TEST_F(HistoryImmutableTest, MalformedMetadataIsRefusedByTheTable) {
  EXPECT_NE(ErrorOf(url_, R"(INSERT INTO "BookingStatusHistory"
                               ("eventId", "bookingId", sequence, "toStatus", metadata)
                             VALUES (gen_random_uuid(), 'b-3', 1, 'CONFIRMED', '[1,2]'))"),
            "");
  // A booking's sequence number is taken once.
  EXPECT_NE(ErrorOf(url_, R"(INSERT INTO "BookingStatusHistory"
                               ("eventId", "bookingId", sequence, "toStatus")
                             VALUES (gen_random_uuid(), 'b-1', 1, 'CANCELLED'))"),
            "");
}

}  // namespace
}  // namespace booking::testing
