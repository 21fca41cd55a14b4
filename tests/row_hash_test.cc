// The row hash has one definition, in C++ (history-service/row_content.h:
// Canonical, RowHash), and a form in SQL that the migration chaining rows
// stored before it used ("BookingStatusHistory_canonical", step
// 0005_history_chain: an applied step whose text never changes). This test
// ties the two over many seeded random rows written as history-service
// writes them (odd characters, NULL beside empty text, long metadata, times
// at the edges of the range): for every stored row, the SQL canonical bytes
// equal the C++ ones, and the SQL hash chain equals the hashes C++ stored.
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "gtest/gtest.h"
#include "history-service/ingest_plan.h"
#include "history-service/ingest_store.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

constexpr uint64_t kSeed = 20;
constexpr int kBookings = 40;

// Text of `n` characters from an alphabet of what canonical forms trip on:
// its own separators, digits, quotes, escapes, control characters and
// multi-byte UTF-8 (octet_length is not the character count).
std::string OddText(std::mt19937_64& rng, size_t n) {
  static const std::vector<std::string> kAlphabet = {
      "a",    "v", "n", ":", "0", "9", "1:", "v3:",          "'", "\"", "\\", "\n",  "\t",
      "\x01", " ", "%", "_", "é", "€", "𝄞",  "\xe2\x80\xa8", "{", "}",  ",",  "null"};
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kAlphabet[rng() % kAlphabet.size()];
  return out;
}

std::string RandomText(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return "";
    case 1:
      return OddText(rng, 500 + rng() % 800);
    default:
      return OddText(rng, rng() % 24);
  }
}

// NULL, empty or text, each often.
std::optional<std::string> Nullable(std::mt19937_64& rng) {
  if (rng() % 3 == 0) return std::nullopt;
  return RandomText(rng);
}

// A JSON object with odd keys and values, at times long (within the
// stored limit) or nested; numbers jsonb keeps as written (1.50).
std::optional<std::string> Metadata(std::mt19937_64& rng) {
  if (rng() % 4 == 0) return std::nullopt;
  std::string json = "{";
  const int fields = static_cast<int>(rng() % 5);
  for (int i = 0; i < fields; ++i) {
    if (i > 0) json += ",";
    absl::StrAppend(&json, JsonString(absl::StrCat(i, OddText(rng, rng() % 6))), ":");
    // One long value at most: the object stays within the stored limit.
    switch (i == 0 ? rng() % 5 : 2 + rng() % 3) {
      case 0:
        json += R"({"nested": [1, 1.50, -0, 1e3, true, null, "\u00e9"]})";
        break;
      case 1:
        json += JsonString(OddText(rng, rng() % 3 == 0 ? 1500 + rng() % 1000 : rng() % 20));
        break;
      case 2:
        absl::StrAppend(&json, static_cast<int64_t>(rng()));
        break;
      default:
        json += JsonString(OddText(rng, rng() % 10));
    }
  }
  return json + "}";
}

// Microseconds since 1970, at the millisecond ("createdAt" is TIMESTAMP(3)):
// the edges of PostgreSQL's range, around 1970 and ordinary times.
int64_t CreatedMicros(std::mt19937_64& rng) {
  static const int64_t kEdges[] = {
      0,
      1000,
      -1000,                // 1969-12-31 23:59:59.999
      -210866803200000000,  // 4713-11-24 BC, the first day PostgreSQL keeps
      -62135596800000000,   // 0001-01-01
      253402300799999000,   // 9999-12-31 23:59:59.999
      6311390400000000000,  // year 201969
      1483228799999000};    // 2016-12-31 23:59:59.999
  if (rng() % 3 == 0) return kEdges[rng() % (sizeof kEdges / sizeof kEdges[0])];
  return static_cast<int64_t>(rng() % 4000000000000ULL) * 1000 - 1000000000000000LL;
}

std::string Uuid(std::mt19937_64& rng) {
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "0123456789abcdef"[rng() % 16];
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

// Metadata as the store prints it (history normalizes events through the
// database before it hashes them: ingest_store.h NormalizeEvents).
void NormalizeMetadata(pqxx::connection& conn, std::vector<PlannedRow>& rows) {
  pqxx::nontransaction txn(conn);
  for (PlannedRow& p : rows) {
    if (p.content.metadata) {
      p.content.metadata =
          txn.exec_params1("SELECT $1::jsonb::text", *p.content.metadata)[0].as<std::string>();
    }
  }
}

// Seeded rows of kBookings bookings, each booking's chained by RowHash.
std::vector<PlannedRow> RandomRows(pqxx::connection& conn) {
  std::mt19937_64 rng(kSeed);
  std::vector<PlannedRow> rows;
  for (int b = 0; b < kBookings; ++b) {
    const std::string booking = b == 0 ? "" : absl::StrCat(OddText(rng, rng() % 12), "#", b);
    // Sequences from 1, or near the top of BIGINT.
    const int64_t first = b % 7 == 3 ? INT64_MAX - 20 : 1;
    const int count = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < count; ++i) {
      RowContent c;
      c.event_id = Uuid(rng);
      c.booking_id = booking;
      c.sequence = first + i;
      c.from_status = Nullable(rng);
      c.to_status = RandomText(rng);
      c.changed_by = Nullable(rng);
      c.reason = Nullable(rng);
      c.metadata = Metadata(rng);
      c.created_micros = CreatedMicros(rng);
      c.trace_parent = rng() % 2 ? "" : "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      rows.push_back({std::move(c), "", ""});
    }
  }
  NormalizeMetadata(conn, rows);
  std::string previous;
  for (size_t i = 0; i < rows.size(); ++i) {
    const bool first_of_booking =
        i == 0 || rows[i - 1].content.booking_id != rows[i].content.booking_id;
    rows[i].previous_hash = first_of_booking ? FirstPrevious() : rows[i - 1].hash;
    rows[i].hash = RowHash(rows[i].previous_hash, rows[i].content);
  }
  return rows;
}

// Where `sql` and `cpp` part, with a little of each from there.
std::string Difference(const std::string& sql, const std::string& cpp) {
  size_t at = 0;
  while (at < sql.size() && at < cpp.size() && sql[at] == cpp[at]) ++at;
  const size_t from = at < 16 ? 0 : at - 16;
  return absl::StrCat("the canonical forms part at byte ", at, " of ", sql.size(), " (SQL) and ",
                      cpp.size(), " (C++): SQL \"", absl::CEscape(sql.substr(from, 40)),
                      "\", C++ \"", absl::CEscape(cpp.substr(from, 40)), "\"");
}

class RowHashTest : public PgSuite {};

TEST_F(RowHashTest, SqlFormEqualsCppFormOverSeededRandomRows) {
  auto services = ServiceSet::Create(*pg_, "row_hash");
  ASSERT_TRUE(services.ok()) << services.status();
  pqxx::connection conn((*services)->history_url());
  const std::vector<PlannedRow> rows = RandomRows(conn);
  {
    pqxx::work txn(conn);
    InsertRows(txn, rows);  // as history-service writes them
    txn.commit();
  }
  std::map<std::string, const PlannedRow*> by_event;
  for (const PlannedRow& p : rows) by_event[p.content.event_id] = &p;

  pqxx::read_transaction txn(conn);
  const pqxx::result r = txn.exec(absl::StrCat("SELECT ", kContentColumns,
                                               R"(, "BookingStatusHistory_canonical"(h),
         sha256(COALESCE(lag("rowHash") OVER (PARTITION BY "bookingId" ORDER BY sequence),
                         decode(repeat('00', 32), 'hex'))
                || "BookingStatusHistory_canonical"(h)),
         "rowHash"
       FROM "BookingStatusHistory" h ORDER BY "bookingId", sequence)"));
  ASSERT_EQ(r.size(), rows.size());
  int multibyte = 0, nulls = 0, long_metadata = 0;
  for (const pqxx::row& row : r) {
    const RowContent stored = ReadContent(row);
    const PlannedRow& written = *by_event.at(stored.event_id);
    SCOPED_TRACE(absl::StrCat("booking ", stored.booking_id, " sequence ", stored.sequence));
    ASSERT_EQ(stored, written.content) << "the row did not keep its content";
    const std::string sql_canonical = pqxx::binarystring(row[9]).str();
    const std::string cpp_canonical = Canonical(stored);
    ASSERT_TRUE(sql_canonical == cpp_canonical) << Difference(sql_canonical, cpp_canonical);
    ASSERT_EQ(Hex(pqxx::binarystring(row[10]).str()), Hex(written.hash))
        << "SQL's hash chain differs from RowHash";
    ASSERT_EQ(Hex(pqxx::binarystring(row[11]).str()), Hex(written.hash));
    multibyte += sql_canonical.find("\xc3\xa9") != std::string::npos;
    nulls += !stored.from_status || !stored.changed_by || !stored.reason || !stored.metadata;
    long_metadata += stored.metadata && stored.metadata->size() > 2000;
  }
  // The generator reached what the test is about.
  EXPECT_GT(multibyte, 20);
  EXPECT_GT(nulls, 20);
  EXPECT_GT(long_metadata, 5);
}

}  // namespace
}  // namespace booking::testing
