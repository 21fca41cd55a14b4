// history-log-bench: the transparency log at the store sizes issue 22 names
// (default 1M and 10M history rows of 10 rows per booking). For each size,
// on a fresh store of hash-chained rows written before the log (as an
// upgraded store holds them), in-process through history-service's own code:
//  1. the fold of those rows into the tree, in batches (rows/s and the
//     longest batch transaction, which holds the tree's lock);
//  2. the log checkpoint's cost with --round-events new entries since the
//     last, --rounds times (must not grow with the store), beside the heads
//     checkpoint it replaces (re-reads every booking's head);
//  3. ingest until every event is in the tree with log checkpoints signed
//     every second, beside the plain insert into the same store;
//  4. VerifyHistory of one booking (its rows' inclusion proofs against the
//     newest log checkpoint) and one inclusion proof alone, beside
//     GetBookingHistory of the same bookings.
// Prints figures; not a test.
#include <algorithm>
#include <cstdio>
#include <random>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/common/die.h"
#include "bench/common/figure.h"
#include "bench/history/ingest_runs.h"
#include "common/batch_sizer.h"
#include "common/config.h"
#include "common/pg.h"
#include "common/tlog/note_key.h"
#include "history-service/checkpoint.h"
#include "history-service/feed_sequencer.h"
#include "history-service/history_store.h"
#include "history-service/log_checkpoint.h"
#include "history-service/log_tree.h"
#include "pqxx/pqxx"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/read_load.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

ABSL_FLAG(std::string, sizes, "1000000,10000000", "history rows of each store, comma-separated");
ABSL_FLAG(int, per_booking, 10, "history rows of each booking");
ABSL_FLAG(int, rounds, 20, "log checkpoints timed at each size");
ABSL_FLAG(int, round_events, 500, "new entries before each timed checkpoint");
ABSL_FLAG(int, ingest_events, 100000, "events ingested by each side of the ingest figure");
ABSL_FLAG(bool, partitioned, false,
          "run `migrator partition-history` on each store after the fold: checkpoints, ingest "
          "and reads measured on the table partitioned by month");
ABSL_FLAG(int, calls, 500, "VerifyHistory (and GetBookingHistory, and proof) calls timed");

namespace booking::testing {
namespace {

using bench::Die;
using bench::PrintFigure;
using Latencies = std::vector<absl::Duration>;

// Rows per tree transaction at most, and a batch's budget, as the feed's
// sequencer's defaults (FeedSequencer::Options).
constexpr int kBatch = 5000;
constexpr absl::Duration kBatchTime = absl::Milliseconds(100);

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

std::string RowsLabel(int64_t rows) {
  return rows >= 1000000 ? absl::StrCat(rows / 1000000, "M") : absl::StrCat(rows / 1000, "k");
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(absl::StrCat(what, ": ", v.status().ToString()));
  return *std::move(v);
}

Latencies Sorted(Latencies l) {
  std::sort(l.begin(), l.end());
  return l;
}

// The store's label in a figure's name: its rows, and how it is laid out.
std::string StoreLabel(int64_t rows) {
  return absl::StrCat(RowsLabel(rows), " rows",
                      absl::GetFlag(FLAGS_partitioned) ? ", partitioned by month" : "");
}

// `migrator partition-history` on the store; its lines.
void Partition(const std::string& url, const std::string& dir) {
  const std::string log = dir + "/partition-history.out";
  absl::StatusOr<int> rc =
      RunCommand({MigratorBin(), "partition-history", "--history-database-url", url}, {}, log);
  if (!rc.ok() || *rc != 0) Die(absl::StrCat("partition-history failed: ", ReadFile(log)));
  std::printf("%s", ReadFile(log).c_str());
}

// Integrates everything waiting, at most `limit` rows a transaction, each
// batch sized to end within `budget` as `migrator fold-log` does; the
// longest transaction.
absl::Duration IntegrateAll(pqxx::connection& conn, int limit, absl::Duration budget) {
  absl::Duration longest;
  BatchSizer sizer(limit, budget);
  for (;;) {
    const absl::Time start = absl::Now();
    const Integrated n = Must(IntegrateRows(conn, sizer.next()), "integrating");
    const absl::Duration took = absl::Now() - start;
    sizer.Done(static_cast<int>(n.appended), took);
    longest = std::max(longest, took);
    if (n.appended == 0) return longest;
  }
}

void Fold(const std::string& url, int64_t rows) {
  pqxx::connection conn(url);
  const absl::Time start = absl::Now();
  const absl::Duration longest = IntegrateAll(conn, kBatch, kBatchTime);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  pqxx::nontransaction txn(conn);
  if (const uint64_t size = Must(ReadTreeHead(txn), "tree").size;
      size != static_cast<uint64_t>(rows))
    Die(absl::StrCat("fold incomplete: the tree holds ", size, " of ", rows, " rows"));
  std::printf("fold of %lld rows: %.1f s, %.0f rows/s, longest batch transaction %.1f ms\n",
              static_cast<long long>(rows), seconds, static_cast<double>(rows) / seconds,
              Ms(longest));
  PrintFigure({.name = absl::StrFormat("log fold of rows from before, %s", StoreLabel(rows)),
               .ours = absl::StrFormat("%.0f rows/s, longest lock %.0f ms",
                                       static_cast<double>(rows) / seconds, Ms(longest)),
               .yardstick = "-",
               .ratio = "-",
               .target = "batches, no long lock",
               .met = std::nullopt});
}

// Times `fn` in one transaction of `pool`.
absl::Duration Timed(PgPool& pool, const std::function<void(pqxx::work&)>& fn) {
  const absl::Time start = absl::Now();
  absl::Status s = pool.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
    fn(txn);
    return absl::OkStatus();
  });
  if (!s.ok()) Die(s.ToString());
  return absl::Now() - start;
}

struct Keys {
  SigningKey heads;
  tlog::NoteSigner log;
};

// Each round: --round-events new entries stored and integrated, then one
// log checkpoint signed and timed. Then the heads checkpoint, timed after
// the same number of new rows (its first signing not counted).
void CheckpointCost(const std::string& url, int64_t rows, const Keys& keys, int64_t& next_id) {
  PgPool pool(bench::BenchPoolOptions(url));
  HistoryStore store(pool);
  pqxx::connection conn(url);
  const int per_round = absl::GetFlag(FLAGS_round_events);
  auto add_round = [&](const std::string& prefix) {
    for (const auto& b : bench::IngestBatches(per_round, per_round, prefix, next_id)) {
      if (Must(store.StoreBatch(b), "ingest").ack.stored() != b.events_size()) Die("not stored");
    }
    next_id += per_round;
    if (Must(SequenceQueued(conn, per_round), "sequencing").entries != per_round) {
      Die("not sequenced");
    }
    IntegrateAll(conn, kBatch, kBatchTime);
  };
  auto sign_log = [&](pqxx::work& txn) {
    if (!Must(SignLogCheckpoint(txn, keys.log), "log checkpoint")) Die("nothing signed");
  };
  Timed(pool, sign_log);  // the first, of the folded tree: nothing to prove it extends
  Latencies log;
  for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
    add_round(absl::StrCat("cp-", r, "-"));
    log.push_back(Timed(pool, sign_log));
  }
  log = Sorted(log);
  Timed(pool, [&](pqxx::work& txn) { SignCheckpoint(txn, keys.heads); });
  add_round("cp-heads-");
  const absl::Duration heads =
      Timed(pool, [&](pqxx::work& txn) { SignCheckpoint(txn, keys.heads); });
  std::printf(
      "log checkpoint, %d entries since the last, %zu rounds: p50 %.2f ms, max %.2f ms; "
      "heads checkpoint %.1f ms\n",
      per_round, log.size(), Ms(Quantile(log, 0.5)), Ms(log.back()), Ms(heads));
  PrintFigure(
      {.name =
           absl::StrFormat("log checkpoint cost, %d new entries, %s", per_round, StoreLabel(rows)),
       .ours = absl::StrFormat("%.2f ms (p50; max %.2f)", Ms(Quantile(log, 0.5)), Ms(log.back())),
       .yardstick = absl::StrFormat("%.0f ms (heads checkpoint, same rows)", Ms(heads)),
       .ratio = absl::StrFormat("%.3fx", Ms(Quantile(log, 0.5)) / Ms(heads)),
       .target = "flat across sizes",
       .met = std::nullopt});
}

void Ingest(const std::string& url, int64_t rows, const std::string& key_file, int64_t& next_id) {
  const int events = absl::GetFlag(FLAGS_ingest_events);
  const double plain =
      bench::PlainInsert(url, bench::IngestBatches(events, 500, "plain-", next_id));
  next_id += events;
  const double chained = bench::ChainedIngest(
      url, bench::IngestBatches(events, 500, "chained-", next_id), key_file, {});
  next_id += events;
  std::printf("ingest: %.0f events/s into the log with checkpoints, %.0f plain; ratio %.2f\n",
              chained, plain, chained / plain);
  PrintFigure({.name = absl::StrFormat("ingest into the log, %s", StoreLabel(rows)),
               .ours = absl::StrFormat("%.0f events/s", chained),
               .yardstick = absl::StrFormat("%.0f events/s (plain insert, same store)", plain),
               .ratio = absl::StrFormat("%.2fx", chained / plain),
               .target = ">= 0.8x",
               .met = chained >= 0.8 * plain});
}

// VerifyHistory (with inclusion proofs), GetBookingHistory and one
// inclusion proof alone, of the same random loaded bookings.
void Reads(const std::string& url, int bookings, int64_t rows) {
  PgPool pool(bench::BenchPoolOptions(url));
  HistoryStore store(pool);
  const int per_booking = absl::GetFlag(FLAGS_per_booking);
  Latencies verify, get, proof;
  std::mt19937 rng(42);
  const uint64_t size = Must(store.LogCheckpoint(absl::InfiniteFuture()), "checkpoint").size();
  for (int i = 0; i < absl::GetFlag(FLAGS_calls); ++i) {
    const std::string booking = LoadedBookingId(1 + static_cast<int>(rng() % bookings));
    absl::Time start = absl::Now();
    const auto v = Must(store.Verify(booking, absl::Now() + absl::Seconds(10)), "verify");
    verify.push_back(absl::Now() - start);
    if (!v.verified() || v.rows_size() != per_booking || !v.rows(0).has_inclusion()) {
      Die(absl::StrCat("VerifyHistory of ", booking, ": ", v.problem()));
    }
    start = absl::Now();
    Must(store.Get(booking, 100, 0, absl::Now() + absl::Seconds(10)), "get");
    get.push_back(absl::Now() - start);
    const uint64_t leaf = rng() % size;
    proof.push_back(Timed(
        pool, [&](pqxx::work& txn) { Must(StoredInclusionProof(txn, leaf, size), "proof"); }));
  }
  verify = Sorted(verify);
  get = Sorted(get);
  proof = Sorted(proof);
  std::printf(
      "VerifyHistory p50 %.2f p99 %.2f ms; GetBookingHistory p50 %.2f p99 %.2f ms; "
      "one inclusion proof p50 %.2f p99 %.2f ms\n",
      Ms(Quantile(verify, 0.5)), Ms(Quantile(verify, 0.99)), Ms(Quantile(get, 0.5)),
      Ms(Quantile(get, 0.99)), Ms(Quantile(proof, 0.5)), Ms(Quantile(proof, 0.99)));
  const double p99 = Ms(Quantile(verify, 0.99)), proof_p99 = Ms(Quantile(proof, 0.99));
  PrintFigure(
      {.name = absl::StrFormat("VerifyHistory with inclusion proofs p99, %s", StoreLabel(rows)),
       .ours = absl::StrFormat("%.2f ms; one proof %.2f ms", p99, proof_p99),
       .yardstick =
           absl::StrFormat("%.2f ms (GetBookingHistory, same bookings)", Ms(Quantile(get, 0.99))),
       .ratio = absl::StrFormat("%.2fx", p99 / std::max(0.001, Ms(Quantile(get, 0.99)))),
       .target = "< 5 ms",
       .met = p99 < 5.0 && proof_p99 < 5.0});
}

void OneSize(PgCluster& pg, int64_t rows, const Keys& keys, const std::string& key_file) {
  const int per_booking = absl::GetFlag(FLAGS_per_booking);
  const int bookings = static_cast<int>(rows / per_booking);
  auto set = Must(ServiceSet::Create(pg, absl::StrCat("log_", RowsLabel(rows))), "stores");
  std::printf("\n== %lld history rows (%d bookings x %d)\n", static_cast<long long>(rows), bookings,
              per_booking);
  if (absl::Status s = LoadChainedHistory(set->history_url(), bookings, per_booking); !s.ok()) {
    Die(s.ToString());
  }
  // Loaded as history-service stores rows (queued for the feed) into a store
  // migrated empty: made rows from before the feed (not queued; what
  // migrator up records for a store that held rows), so the fold takes them
  // as it would on an upgraded store.
  Exec(set->history_url(), R"(DELETE FROM "BookingStatusHistoryFeedQueue";
      UPDATE "BookingStatusHistoryFeedStart" SET "legacyRows" = true;
      UPDATE "BookingStatusHistoryTree" SET "legacyDone" = false WHERE size = 0)");
  Exec(set->history_url(), R"(VACUUM ANALYZE "BookingStatusHistoryFeedQueue")");
  Fold(set->history_url(), rows);
  if (absl::GetFlag(FLAGS_partitioned)) Partition(set->history_url(), set->log_dir());
  int64_t next_id = 1;
  CheckpointCost(set->history_url(), rows, keys, next_id);
  Ingest(set->history_url(), rows, key_file, next_id);
  Reads(set->history_url(), bookings, rows);
}

int Main(int argc, char** argv) {
  ParseFlags(
      argc, argv,
      "history-log-bench [--sizes N,M] [--rounds R] [--round-events E] [--ingest-events I] "
      "[--calls C] [--partitioned]: the log's fold, checkpoint cost, ingest and proofs at each "
      "store size");
  std::vector<int64_t> sizes;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1000) Die(absl::StrCat("--sizes: not a size: ", s));
    sizes.push_back(n);
  }
  auto pg = Must(PgCluster::Start(), "PostgreSQL");
  const std::string key_file = absl::StrCat(pg->dir(), "/log-bench.key");
  if (absl::Status s = WriteKeyPair(key_file); !s.ok()) Die(s.ToString());
  SigningKey heads = Must(LoadSigningKey(key_file), "key");
  Keys keys{heads, Must(tlog::NoteSigner::FromSeed("bench.local/log", heads.secret.substr(0, 32)),
                        "signer")};
  for (int64_t rows : sizes) OneSize(*pg, rows, keys, key_file);
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) {
  return booking::bench::RunBench("history-log-bench",
                                  [&] { return booking::testing::Main(argc, argv); });
}
