// What a delivery test checks once the outbox drained: history holds
// exactly the booking store's changes (per booking versions 1..N, each once,
// in order, each following the one before), nothing set aside, and every
// change acknowledged to a client is there with its status. GoogleTest
// assertions: for tests only (header-only, so the support libraries stay
// free of GoogleTest).
#ifndef TESTS_SUPPORT_HISTORY_CHECK_H_
#define TESTS_SUPPORT_HISTORY_CHECK_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {

// Waits up to `timeout` for the booking store's outbox to drain: every
// committed event delivered to history.
inline absl::Status WaitOutboxDrained(const ServiceSet& s,
                                      absl::Duration timeout = absl::Seconds(90)) {
  return WaitFor(
      [&] { return QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") == 0; },
      timeout, "the outbox to drain", absl::Milliseconds(200));
}

// What the booking store and history hold once everything drained.
struct Stores {
  struct Row {
    int64_t version;
    std::string status;
  };
  struct Entry {
    int64_t sequence;
    std::string from, to;
  };
  std::map<std::string, Row> store;
  std::map<std::string, std::vector<Entry>> history;
  int64_t history_rows = 0;
};

inline Stores ReadStores(const ServiceSet& s) {
  Stores out;
  {
    pqxx::connection conn(s.booking_url());
    pqxx::nontransaction txn(conn);
    for (const auto& row : txn.exec(R"(SELECT id, version, status::text FROM "Booking")")) {
      out.store[row[0].as<std::string>()] = {row[1].as<int64_t>(), row[2].as<std::string>()};
    }
    EXPECT_EQ(txn.exec(R"(SELECT count(*) FROM "BookingOutboxRejected")")[0][0].as<int>(), 0);
  }
  pqxx::connection conn(s.history_url());
  pqxx::nontransaction txn(conn);
  pqxx::result totals =
      txn.exec(R"(SELECT count(*), count(DISTINCT "eventId") FROM "BookingStatusHistory")");
  out.history_rows = totals[0][0].as<int64_t>();
  EXPECT_EQ(out.history_rows, totals[0][1].as<int64_t>()) << "an event is in history twice";
  for (const auto& row :
       txn.exec(R"(SELECT "bookingId", sequence, COALESCE("fromStatus", ''), "toStatus"
                   FROM "BookingStatusHistory" ORDER BY "bookingId", sequence)")) {
    out.history[row[0].as<std::string>()].push_back(
        {row[1].as<int64_t>(), row[2].as<std::string>(), row[3].as<std::string>()});
  }
  return out;
}

// History holds exactly the store's changes: per booking 1..version, each
// once, each following the one before, ending in the store's status. Sets
// `*store_changes` to the sum of the store's versions.
inline void ExpectHistoryIsTheStoresChanges(Stores& st, int64_t* store_changes) {
  *store_changes = 0;
  for (const auto& [id, b] : st.store) {
    *store_changes += b.version;
    const std::vector<Stores::Entry>& entries = st.history[id];
    ASSERT_EQ(static_cast<int64_t>(entries.size()), b.version) << "booking " << id;
    for (size_t i = 0; i < entries.size(); ++i) {
      ASSERT_EQ(entries[i].sequence, static_cast<int64_t>(i) + 1) << "booking " << id;
      if (i > 0) {
        ASSERT_EQ(entries[i].from, entries[i - 1].to) << id << " at " << i + 1;
      }
    }
    EXPECT_EQ(entries.back().to, b.status) << "booking " << id;
  }
  for (const auto& [id, entries] : st.history) {
    EXPECT_TRUE(st.store.count(id)) << "history has booking " << id << " the store does not";
  }
  EXPECT_EQ(st.history_rows, *store_changes);
}

// Every acknowledged change is there, with the status it was acknowledged
// with; every acknowledgement is of a different change; each thread
// resolved every change it started (nothing committed went unacknowledged).
inline void ExpectEveryAckInHistory(const StatusLoad& load, Stores& st, int64_t store_changes) {
  const std::vector<AckedChange> acked = load.acked();
  std::set<std::pair<std::string, int64_t>> distinct;
  for (const AckedChange& a : acked) {
    EXPECT_TRUE(distinct.insert({a.booking_id, a.version}).second)
        << a.booking_id << " v" << a.version << " acknowledged twice";
    const auto& entries = st.history[a.booking_id];
    ASSERT_LE(a.version, static_cast<int64_t>(entries.size())) << a.booking_id;
    EXPECT_EQ(entries[a.version - 1].to, a.status) << a.booking_id << " v" << a.version;
  }
  EXPECT_EQ(load.unresolved(), 0);
  EXPECT_EQ(static_cast<int64_t>(acked.size()), store_changes);
}

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_HISTORY_CHECK_H_
