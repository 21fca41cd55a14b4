// history.v1.HistoryService/ListHistory against a real history-service and
// PostgreSQL: each filter alone and combined in both orders, bad requests
// refused with their details, 10,000 entries paged while new ones arrive
// (none skipped, none repeated), and every filter shape answered from an
// index (EXPLAIN of the very statement the service runs).
#include "history-service/list_history.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

using history::v1::HistoryEntry;
using history::v1::ListHistoryRequest;
using history::v1::ListHistoryResponse;
using history::v1::StatusChangeEvent;

constexpr int64_t kBase = 1793491200;  // 2026-11-01T00:00:00Z

std::string Rfc3339(int64_t seconds) {
  return google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::SecondsToTimestamp(seconds));
}

StatusChangeEvent Event(int64_t n, const std::string& booking, int64_t sequence,
                        const std::string& from, const std::string& to, const std::string& by,
                        int64_t seconds) {
  StatusChangeEvent e = StatusEvent(EventId(n), booking, sequence, from, to, by);
  e.mutable_change_time()->set_seconds(seconds);
  return e;
}

class ListHistoryTest : public PgSuite {
 protected:
  void Start(const std::string& prefix) {
    auto set = ServiceSet::Create(*pg_, prefix);
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    ASSERT_TRUE(set_->StartHistory().ok()) << set_->Logs();
    stub_ = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  }

  void Store(const std::vector<StatusChangeEvent>& events) {
    IngestClient ingest(set_->history_target());
    for (size_t i = 0; i < events.size(); i += 500) {
      std::vector<StatusChangeEvent> batch(events.begin() + i,
                                           events.begin() + std::min(events.size(), i + 500));
      absl::StatusOr<history::v1::IngestAck> ack = ingest.Send(batch);
      ASSERT_TRUE(ack.ok()) << ack.status() << set_->Logs();
      ASSERT_EQ(ack->stored(), static_cast<int>(batch.size())) << ack->DebugString();
    }
  }

  grpc::Status List(const ListHistoryRequest& request, ListHistoryResponse* response) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", ServiceSet::kToken));
    return stub_->ListHistory(&context, request, response);
  }

  // Every page's event ids, in order.
  std::vector<std::string> ListAll(const std::string& filter, const std::string& order_by,
                                   int page_size) {
    std::vector<std::string> ids;
    ListHistoryRequest request;
    request.set_filter(filter);
    request.set_order_by(order_by);
    request.set_page_size(page_size);
    for (int pages = 0; pages < 10000; ++pages) {
      ListHistoryResponse page;
      grpc::Status s = List(request, &page);
      EXPECT_TRUE(s.ok()) << filter << ": " << s.error_message();
      if (!s.ok()) break;
      for (const HistoryEntry& e : page.entries()) ids.push_back(e.event_id());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return ids;
  }

  std::unique_ptr<ServiceSet> set_;
  std::unique_ptr<history::v1::HistoryService::Stub> stub_;
};

// 20 bookings x 3 entries: created by api@x, confirmed by ops@x or api@x,
// then cancelled by ops@x (even bookings) or picked up by driver@x.
std::vector<StatusChangeEvent> Story() {
  std::vector<StatusChangeEvent> out;
  int64_t n = 1;
  for (int b = 0; b < 20; ++b) {
    const std::string booking = absl::StrCat("story-", b);
    const int64_t t = kBase + b * 600;
    out.push_back(Event(n++, booking, 1, "", "PENDING_PAYMENT", "api@x", t));
    out.push_back(
        Event(n++, booking, 2, "PENDING_PAYMENT", "CONFIRMED", b % 3 ? "api@x" : "ops@x", t + 60));
    if (b % 2 == 0) {
      out.push_back(Event(n++, booking, 3, "CONFIRMED", "CANCELLED", "ops@x", t + 120));
    } else {
      out.push_back(Event(n++, booking, 3, "CONFIRMED", "PICKUP_ASSIGNED", "driver@x", t + 120));
    }
  }
  return out;
}

struct FilterCase {
  std::string filter;
  std::function<bool(const StatusChangeEvent&)> selects;
};

// Each filter alone and combined, with what it selects of Story(); the time
// range [from, to) in seconds.
std::vector<FilterCase> FilterCases(int64_t from, int64_t to) {
  const auto at = [](const StatusChangeEvent& e) { return e.change_time().seconds(); };
  return {
      {"", [](const auto&) { return true; }},
      {R"(changed_by = "ops@x")", [](const auto& e) { return e.changed_by() == "ops@x"; }},
      {"to_status = CANCELLED", [](const auto& e) { return e.to_status() == "CANCELLED"; }},
      {R"(from_status = "CONFIRMED")",
       [](const auto& e) { return e.from_status() == "CONFIRMED"; }},
      {R"(from_status = "")", [](const auto& e) { return e.from_status().empty(); }},
      {absl::StrCat(R"(create_time >= ")", Rfc3339(from), R"(" AND create_time < ")", Rfc3339(to),
                    R"(")"),
       [=](const auto& e) { return at(e) >= from && at(e) < to; }},
      {absl::StrCat(R"(create_time > ")", Rfc3339(from), R"(")"),
       [=](const auto& e) { return at(e) > from; }},
      {absl::StrCat(R"(create_time <= ")", Rfc3339(to), R"(")"),
       [=](const auto& e) { return at(e) <= to; }},
      {R"(changed_by = "ops@x" AND to_status = "CANCELLED")",
       [](const auto& e) { return e.changed_by() == "ops@x" && e.to_status() == "CANCELLED"; }},
      {R"(changed_by = "ops@x" AND from_status = "PENDING_PAYMENT")",
       [](const auto& e) {
         return e.changed_by() == "ops@x" && e.from_status() == "PENDING_PAYMENT";
       }},
      {absl::StrCat(R"(changed_by = "ops@x" AND to_status = "CANCELLED" AND )",
                    R"(from_status = "CONFIRMED" AND create_time >= ")", Rfc3339(from),
                    R"(" AND create_time < ")", Rfc3339(to), R"(")"),
       [=](const auto& e) {
         return e.changed_by() == "ops@x" && e.to_status() == "CANCELLED" &&
                e.from_status() == "CONFIRMED" && at(e) >= from && at(e) < to;
       }},
      {R"(to_status = "NO_SUCH_STATUS")", [](const auto&) { return false; }},
  };
}

TEST_F(ListHistoryTest, EachFilterAloneAndCombinedInBothOrders) {
  ASSERT_NO_FATAL_FAILURE(Start("list_filters"));
  const std::vector<StatusChangeEvent> story = Story();
  ASSERT_NO_FATAL_FAILURE(Store(story));
  const int64_t from = kBase + 5 * 600, to = kBase + 12 * 600;  // bookings 5..11
  for (const FilterCase& c : FilterCases(from, to)) {
    std::vector<std::string> oldest;  // story is in time order
    for (const StatusChangeEvent& e : story) {
      if (c.selects(e)) oldest.push_back(e.event_id());
    }
    const std::vector<std::string> newest(oldest.rbegin(), oldest.rend());
    EXPECT_EQ(ListAll(c.filter, "create_time", 7), oldest) << c.filter;
    EXPECT_EQ(ListAll(c.filter, "create_time asc", 1000), oldest) << c.filter;
    EXPECT_EQ(ListAll(c.filter, "", 7), newest) << c.filter;
    EXPECT_EQ(ListAll(c.filter, "create_time desc", 5), newest) << c.filter;
  }
  // The entries as stored, booking ids and times included.
  ListHistoryRequest request;
  request.set_filter(R"(to_status = "CANCELLED")");
  ListHistoryResponse page;
  ASSERT_TRUE(List(request, &page).ok());
  ASSERT_EQ(page.entries_size(), 10);
  EXPECT_EQ(page.entries(0).booking_id(), "story-18");
  EXPECT_EQ(page.entries(0).sequence(), 3);
  EXPECT_EQ(page.entries(0).from_status(), "CONFIRMED");
  EXPECT_EQ(page.entries(0).changed_by(), "ops@x");
  EXPECT_EQ(page.entries(0).create_time().seconds(), kBase + 18 * 600 + 120);
}

// The google.rpc details of `s`: the BadRequest field and ErrorInfo reason.
std::pair<std::string, std::string> FieldAndReason(const grpc::Status& s) {
  google::rpc::Status details;
  std::pair<std::string, std::string> out;
  if (!details.ParseFromString(s.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&bad) && bad.field_violations_size() > 0) {
      out.first = bad.field_violations(0).field();
    } else if (any.UnpackTo(&info) && info.domain() == "history.v1") {
      out.second = info.reason();
    }
  }
  return out;
}

TEST_F(ListHistoryTest, BadFiltersOrdersAndTokensAreInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(Start("list_bad"));
  ASSERT_NO_FATAL_FAILURE(Store(Story()));
  ListHistoryRequest first;
  first.set_filter(R"(changed_by = "ops@x")");
  first.set_page_size(2);
  ListHistoryResponse page;
  ASSERT_TRUE(List(first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  const std::string token = page.next_page_token();

  struct Bad {
    std::string what;
    ListHistoryRequest request;
    std::string field, reason;
  };
  std::vector<Bad> bad;
  const auto add = [&](std::string what, std::string filter, std::string order_by,
                       std::string page_token, std::string field, std::string reason) {
    ListHistoryRequest r;
    r.set_filter(filter);
    r.set_order_by(order_by);
    r.set_page_token(page_token);
    bad.push_back({what, r, field, reason});
  };
  add("OR", R"(to_status = "A" OR to_status = "B")", "", "", "filter", "INVALID_FILTER");
  add("unknown field", R"(booking_id = "b")", "", "", "filter", "INVALID_FILTER");
  add("bad time", R"(create_time > "last week")", "", "", "filter", "INVALID_FILTER");
  add("order by other", "", "sequence desc", "", "order_by", "INVALID_ORDER_BY");
  add("garbage token", first.filter(), "", "garbage", "page_token", "INVALID_PAGE_TOKEN");
  add("token, other filter", R"(changed_by = "api@x")", "", token, "page_token",
      "PAGE_TOKEN_MISMATCH");
  add("token, no filter", "", "", token, "page_token", "PAGE_TOKEN_MISMATCH");
  add("token, other order", first.filter(), "create_time asc", token, "page_token",
      "PAGE_TOKEN_MISMATCH");
  ListHistoryRequest negative;
  negative.set_page_size(-1);
  bad.push_back({"negative page_size", negative, "page_size", "INVALID_ARGUMENT"});
  for (const Bad& b : bad) {
    ListHistoryResponse out;
    const grpc::Status s = List(b.request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << b.what;
    EXPECT_EQ(FieldAndReason(s), std::make_pair(b.field, b.reason)) << b.what;
  }
  // The same filter written otherwise is the same filter: its token holds.
  ListHistoryRequest again;
  again.set_filter(R"(changed_by="ops@x")");
  again.set_page_size(2);
  again.set_page_token(token);
  EXPECT_TRUE(List(again, &page).ok());
}

// Stores new entries (one booking each, event numbers from `first`, times
// spread over the same span as the 10,000) until stopped.
class LateWriter {
 public:
  LateWriter(const std::string& target, int64_t first)
      : thread_([this, target, first] { Run(target, first); }) {}
  ~LateWriter() { Stop(); }
  // Waits until `n` more entries are stored than now (or the writer failed,
  // or 30 s passed); how many were.
  int AwaitMore(int n) {
    const int before = written_.load();
    (void)WaitFor([&] { return written_.load() >= before + n || done_.load(); }, absl::Seconds(30),
                  "entries stored", absl::Milliseconds(1));
    return written_.load() - before;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run(const std::string& target, int64_t first) {
    IngestClient ingest(target);
    for (int64_t n = first; !stop_.load(); n += 20) {
      std::vector<StatusChangeEvent> batch;
      for (int64_t k = n; k < n + 20; ++k) {
        batch.push_back(Event(k, absl::StrCat("late-", k), 1, "", "CONFIRMED", "late@x",
                              kBase + ((k * 104729) % 4000) * 60));
      }
      absl::StatusOr<history::v1::IngestAck> ack = ingest.Send(batch);
      if (!ack.ok() || ack->stored() != 20) break;
      written_ += 20;
    }
    done_ = true;
  }

  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<int> written_{0};
  std::thread thread_;
};

// 10,000 entries (1,000 bookings x 10) over 10,000 minutes, then paged newest
// first and oldest first while a writer stores more entries, with times in
// the same span, before and after every cursor.
TEST_F(ListHistoryTest, PagesThrough10000EntriesWhileNewOnesArrive) {
  ASSERT_NO_FATAL_FAILURE(Start("list_paging"));
  constexpr int kBookings = 1000, kPerBooking = 10;
  std::vector<StatusChangeEvent> original;
  for (int b = 0; b < kBookings; ++b) {
    for (int s = 1; s <= kPerBooking; ++s) {
      const int64_t n = static_cast<int64_t>(b) * kPerBooking + s;
      // Several entries share a create_time: ties are ordered by id.
      original.push_back(Event(n, absl::StrCat("bulk-", b), s, s == 1 ? "" : "CONFIRMED",
                               "CONFIRMED", "bulk@x", kBase + ((n * 7919) % 4000) * 60));
    }
  }
  ASSERT_NO_FATAL_FAILURE(Store(original));
  std::set<std::string> originals;
  for (const auto& e : original) originals.insert(e.event_id());

  for (const std::string order : {"create_time desc", "create_time asc"}) {
    LateWriter writer(set_->history_target(), order == "create_time asc" ? 1000000 : 2000000);
    std::map<std::string, int> seen;
    ListHistoryRequest request;
    request.set_order_by(order);
    request.set_page_size(250);
    int pages = 0, arrived = 0;
    for (;; ++pages) {
      ListHistoryResponse page;
      grpc::Status s = List(request, &page);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const HistoryEntry& e : page.entries()) ++seen[e.event_id()];
      if (pages == 0) arrived = writer.AwaitMore(40);  // between the first page and the rest
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    writer.Stop();
    EXPECT_GE(arrived, 40) << order;
    EXPECT_GE(pages, 40) << order;
    for (const std::string& id : originals) {
      ASSERT_EQ(seen.count(id), 1u) << order << ": skipped " << id;
    }
    for (const auto& [id, times] : seen) ASSERT_EQ(times, 1) << order << ": repeated " << id;
  }
}

// Enough rows, with realistic spreads, and ANALYZE: then each filter shape's
// statement (BuildListQuery, as the service runs it) reads an index, never
// the whole table.
TEST_F(ListHistoryTest, EveryFilterShapeIsAnsweredFromAnIndex) {
  ASSERT_NO_FATAL_FAILURE(Start("list_explain"));
  pqxx::connection conn(set_->history_url());
  {
    pqxx::work txn(conn);
    txn.exec(R"(
      INSERT INTO "BookingStatusHistory"
        ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", "createdAt")
      SELECT gen_random_uuid(), 'bk-' || (s / 10), s % 10 + 1,
             CASE WHEN s % 10 = 0 THEN NULL ELSE 'S' || (s % 11) END, 'S' || ((s + 1) % 11),
             'user-' || (s % 300), timestamp '2026-01-01' + s * interval '2 minutes'
      FROM generate_series(0, 199999) AS s)");
    txn.commit();
  }
  pqxx::nontransaction(conn).exec(R"(ANALYZE "BookingStatusHistory")");
  const std::vector<std::string> filters = {
      "",
      R"(changed_by = "user-7")",
      R"(to_status = "S3")",
      R"(from_status = "S4")",
      R"(from_status = "")",
      R"(create_time >= "2026-03-01T00:00:00Z" AND create_time < "2026-03-02T00:00:00Z")",
      R"(create_time >= "2026-03-01T00:00:00Z")",
      R"(changed_by = "user-7" AND to_status = "S3")",
      R"(to_status = "S3" AND create_time < "2026-02-01T00:00:00Z")",
      R"(changed_by = "user-7" AND to_status = "S8" AND from_status = "S7" AND )"
      R"(create_time >= "2026-01-05T00:00:00Z" AND create_time < "2026-06-01T00:00:00Z")",
  };
  for (const std::string& filter : filters) {
    for (const char* order : {"create_time desc", "create_time asc"}) {
      for (bool with_cursor : {false, true}) {
        ListHistoryRequest request;
        request.set_filter(filter);
        request.set_order_by(order);
        absl::StatusOr<ListPlan> plan = PlanListHistory(request);
        ASSERT_TRUE(plan.ok()) << plan.status();
        if (with_cursor) plan->after = ListCursor{1775000000LL * 1000000, EventId(1)};
        const ListQuery q = BuildListQuery(*plan);
        pqxx::work txn(conn);
        std::string text;
        for (const auto& row :
             txn.exec_params("EXPLAIN " + q.sql, pqxx::prepare::make_dynamic_params(q.params))) {
          absl::StrAppend(&text, row[0].c_str(), "\n");
        }
        const std::string what = absl::StrCat(filter, " / ", order, with_cursor ? " / cursor" : "");
        EXPECT_FALSE(absl::StrContains(text, "Seq Scan")) << what << "\n" << text;
        EXPECT_TRUE(absl::StrContains(text, "Index")) << what << "\n" << text;
      }
    }
  }
}

}  // namespace
}  // namespace booking::testing
