// The outbox module (outbox/outbox.h) against a store `migrator up` made:
// - the schema steps create exactly the columns the module names, in order
//   (the steps' applied text cannot change; this keeps the two together);
// - an event written by InsertSql is read back by ReadPending, field by
//   field, by name, and the NOTIFY reaches a listener on the channel;
// - ReadPending returns a database error as a status, never throws;
// - the history table refuses metadata over limits::kMaxStoredMetadataBytes
//   as stored and takes it at the limit (the bare number in the applied
//   history step is this limit).
#include "outbox/outbox.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/limits.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

class OutboxTest : public PgSuite {
 protected:
  void SetUp() override {
    PgSuite::SetUp();
    static int n = 0;
    auto created = ServiceSet::Create(*pg_, absl::StrCat("outbox_", ++n));
    ASSERT_TRUE(created.ok()) << created.status();
    services_ = *std::move(created);
  }

  // The table's columns in order, quoted as the module writes them.
  std::string ColumnsOf(const std::string& url, const std::string& table) {
    return QueryValue(url,
                      absl::StrCat(R"(SELECT string_agg(quote_ident(attname), ', '
                                                 ORDER BY attnum)
                                          FROM pg_attribute WHERE attrelid = ')",
                                   table, R"('::regclass AND attnum > 0 AND NOT attisdropped)"));
  }

  std::unique_ptr<ServiceSet> services_;
};

TEST_F(OutboxTest, SchemaStepsCreateTheColumnsTheModuleNames) {
  const std::string& url = services_->booking_url();
  EXPECT_EQ(ColumnsOf(url, outbox::kTable), absl::StrJoin(outbox::kColumns, ", "));
  EXPECT_EQ(ColumnsOf(url, outbox::kRejectedTable), absl::StrJoin(outbox::kRejectedColumns, ", "));
  for (absl::string_view column : outbox::kEventColumns) {
    EXPECT_NE(std::find(outbox::kRejectedColumns.begin(), outbox::kRejectedColumns.end(), column),
              outbox::kRejectedColumns.end())
        << column << " is not kept when an event is set aside";
  }
}

TEST_F(OutboxTest, AnEventInsertSqlWritesIsReadBackByNameAndNotified) {
  pqxx::connection listener(services_->booking_url());
  struct Heard final : pqxx::notification_receiver {
    explicit Heard(pqxx::connection& c) : pqxx::notification_receiver(c, outbox::kChannel) {}
    void operator()(const std::string&, int) override { ++count; }
    int count = 0;
  } heard(listener);

  pqxx::connection conn(services_->booking_url());
  {
    pqxx::work txn(conn);
    const outbox::EventValues values = {.booking_id = "$1",
                                        .sequence = "$2",
                                        .from_status = "NULLIF($3, '')",
                                        .to_status = "$4",
                                        .changed_by = "$5",
                                        .reason = "$6",
                                        .metadata = "$7::jsonb",
                                        .trace_parent = "$8"};
    txn.exec_params(outbox::InsertSql(values), "b-1", 7, "", "CONFIRMED", "tester", "odd 'reason'",
                    R"({"k": [1, "é"]})",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    txn.exec(absl::StrCat("SELECT ", outbox::NotifyCall()));
    txn.commit();
  }
  std::vector<int> all;
  for (int p = 0; p < outbox::kPartitions; ++p) all.push_back(p);
  absl::StatusOr<std::vector<outbox::PendingEvent>> read =
      outbox::ReadPending(conn, {.partitions = all, .exclude = {}, .limit = 10});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  const outbox::PendingEvent& e = read->front();
  EXPECT_GT(e.outbox_id, 0);
  EXPECT_EQ(e.event_id.size(), 36u);
  EXPECT_EQ(e.booking_id, "b-1");
  EXPECT_EQ(e.sequence, 7);
  EXPECT_EQ(e.from_status, "");
  EXPECT_EQ(e.to_status, "CONFIRMED");
  EXPECT_EQ(e.changed_by, "tester");
  EXPECT_EQ(e.reason, "odd 'reason'");
  EXPECT_EQ(e.metadata, R"({"k": [1, "é"]})");
  EXPECT_GT(e.created_micros, 1600000000000000);
  EXPECT_EQ(e.trace_parent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  // Excluded (in flight), it is not read again.
  read = outbox::ReadPending(conn, {.partitions = all, .exclude = {e.outbox_id}, .limit = 10});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->empty());

  const int got = listener.await_notification(10, 0);  // seconds, at most
  EXPECT_EQ(got, 1);
  EXPECT_EQ(heard.count, 1);
}

TEST_F(OutboxTest, ReadPendingReturnsADatabaseErrorAsAStatus) {
  pqxx::connection conn(services_->booking_url());
  {
    pqxx::nontransaction txn(conn);
    txn.exec(R"(SET search_path = pg_catalog)");  // the outbox is not found
  }
  absl::StatusOr<std::vector<outbox::PendingEvent>> read =
      outbox::ReadPending(conn, {.partitions = {1}, .exclude = {}, .limit = 10});
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInternal) << read.status();
  EXPECT_NE(read.status().message().find("BookingOutbox"), std::string::npos) << read.status();
}

TEST_F(OutboxTest, HistoryTakesStoredMetadataUpToTheLimitAndRefusesMore) {
  const std::string& url = services_->history_url();
  const auto insert = [&](size_t bytes, int sequence) {
    // {"k": "xxx"} is 9 bytes beside its x's.
    return absl::StrCat(R"(INSERT INTO "BookingStatusHistory"
                             ("eventId", "bookingId", sequence, "toStatus", metadata)
                           VALUES (gen_random_uuid(), 'limit', )",
                        sequence, ", 'CONFIRMED', jsonb_build_object('k', repeat('x', ", bytes - 9,
                        ")))");
  };
  Exec(url, insert(limits::kMaxStoredMetadataBytes, 1));
  EXPECT_EQ(QueryCount(url, R"(SELECT max(octet_length(metadata::text))
                               FROM "BookingStatusHistory" WHERE "bookingId" = 'limit')"),
            static_cast<int64_t>(limits::kMaxStoredMetadataBytes));
  EXPECT_ANY_THROW(Exec(url, insert(limits::kMaxStoredMetadataBytes + 1, 2)));
}

}  // namespace
}  // namespace booking::testing
