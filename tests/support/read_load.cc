#include "tests/support/read_load.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "history-service/ingest_store.h"
#include "history-service/row_content.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/ingest_client.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kRowsPerStatement = 5000;

// Row `sequence` of loaded booking `b`, as a caller of Ingest would send it.
RowContent LoadedRow(int b, int sequence, int bookings) {
  RowContent c;
  c.event_id = absl::StrFormat("20000000-0000-4000-8000-%012d",
                               static_cast<int64_t>(sequence - 1) * bookings + b);
  c.booking_id = LoadedBookingId(b);
  c.sequence = sequence;
  if (sequence > 1) c.from_status = sequence % 2 == 0 ? "CONFIRMED" : "PICKUP_ASSIGNED";
  c.to_status = sequence % 2 == 0 ? "PICKUP_ASSIGNED" : "CONFIRMED";
  c.changed_by = "dispatcher@ops";
  c.reason = "driver reassigned after a call";
  // As PostgreSQL prints the jsonb (what the hash covers).
  c.metadata = absl::StrFormat(R"({"driver": "d-%d", "region": "north"})", b % 100);
  c.created_micros = (int64_t{1767225600} + int64_t{3600} * sequence + b) * 1000000;  // 2026
  return c;
}

}  // namespace

std::vector<std::string> DropHistoryIndexes(pqxx::connection& conn) {
  pqxx::work txn(conn);
  std::vector<std::string> rebuild;
  for (const pqxx::row& r : txn.exec(R"(
      SELECT format('ALTER TABLE "BookingStatusHistory" ADD CONSTRAINT %I %s', conname,
                    pg_get_constraintdef(oid)),
             format('ALTER TABLE "BookingStatusHistory" DROP CONSTRAINT %I', conname)
      FROM pg_constraint
      WHERE conrelid = '"BookingStatusHistory"'::regclass AND contype IN ('p', 'u')
      UNION ALL
      SELECT pg_get_indexdef(indexrelid), format('DROP INDEX %s', indexrelid::regclass)
      FROM pg_index
      WHERE indrelid = '"BookingStatusHistory"'::regclass
        AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('p', 'u')))")) {
    rebuild.push_back(r[0].as<std::string>());
    txn.exec(r[1].as<std::string>());
  }
  txn.commit();
  return rebuild;
}

std::string LoadedBookingId(int b) { return absl::StrFormat("bk-%08d", b); }

absl::Status LoadChainedHistory(const std::string& url, int bookings, int per_booking) {
  try {
    pqxx::connection conn(url);
    const std::vector<std::string> rebuild = DropHistoryIndexes(conn);
    absl::Time start = absl::Now();
    // Each booking's last hash so far; rows chained here by history-service's
    // own code and stored by its own insert.
    std::vector<std::string> previous(bookings + 1, FirstPrevious());
    for (int s = 1; s <= per_booking; ++s) {
      for (int first = 1; first <= bookings; first += kRowsPerStatement) {
        std::vector<PlannedRow> rows;
        for (int b = first; b < first + kRowsPerStatement && b <= bookings; ++b) {
          PlannedRow row{LoadedRow(b, s, bookings), previous[b], ""};
          row.hash = RowHash(row.previous_hash, row.content);
          previous[b] = row.hash;
          rows.push_back(std::move(row));
        }
        pqxx::work txn(conn);
        InsertRows(txn, rows);
        txn.commit();
      }
    }
    std::printf("  %d rows inserted in %.1f s\n", bookings * per_booking,
                absl::ToDoubleSeconds(absl::Now() - start));
    start = absl::Now();
    pqxx::nontransaction txn(conn);
    txn.exec("SET maintenance_work_mem = '256MB'");
    for (const std::string& statement : rebuild) txn.exec(statement);
    txn.exec(R"(VACUUM ANALYZE "BookingStatusHistory")");
    std::printf("  %zu indexes built again, table vacuumed in %.1f s\n", rebuild.size(),
                absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading history: ", e.what()));
  }
}

absl::Status WaitForCheckpoint(const std::string& url, int64_t rows, absl::Duration timeout) {
  try {
    pqxx::connection conn(url);
    return WaitFor(
        [&] {
          pqxx::nontransaction txn(conn);
          return txn.exec(R"(SELECT COALESCE(max("rowCount"), 0) FROM "HistoryCheckpoint")")[0][0]
                     .as<int64_t>() >= rows;
        },
        timeout, absl::StrCat("a checkpoint of ", rows, " rows"), absl::Milliseconds(200));
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

absl::Duration Quantile(const std::vector<absl::Duration>& sorted, double p) {
  if (sorted.empty()) return absl::ZeroDuration();
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

IngestRun MeasureIngest(const std::string& target, const std::string& prefix, int64_t first_event,
                        int batches, int batch_size) {
  IngestRun run;
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  int64_t event = first_event;
  uint64_t batch_id = 0;
  auto context = std::make_unique<grpc::ClientContext>();
  auto stream = stub->Ingest(context.get());
  for (int b = 0; b < batches; ++b) {
    history::v1::IngestRequest batch;
    batch.set_batch_id(++batch_id);
    for (int i = 0; i < batch_size; ++i, ++event) {
      *batch.add_events() = StatusEvent(EventId(event), absl::StrCat(prefix, "-", event), 1, "",
                                        "PENDING_PAYMENT", "read-load");
    }
    const absl::Time start = absl::Now();
    history::v1::IngestAck ack;
    if (stream->Write(batch) && stream->Read(&ack)) {
      run.latencies.push_back(absl::Now() - start);
      continue;
    }
    // The stream ended: why, then a new one (as the relay does).
    const grpc::Status s = stream->Finish();
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
      ++run.refused;
    else
      ++run.failed;
    if (run.first_error.empty())
      run.first_error = absl::StrCat(s.error_code(), ": ", s.error_message());
    context = std::make_unique<grpc::ClientContext>();
    stream = stub->Ingest(context.get());
  }
  stream->WritesDone();
  (void)stream->Finish();
  std::sort(run.latencies.begin(), run.latencies.end());
  return run;
}

Readers::Readers(const std::string& target, int bookings, int n, Pushback pushback) {
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([=] { Loop(target, bookings, 7000 + i, pushback); });
  }
}

void Readers::Loop(const std::string& target, int bookings, int seed, Pushback pushback) {
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::mt19937 rng(seed);
  for (int call = 0; !stop_.load(); ++call) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", ServiceSet::kToken));
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    const std::string booking = LoadedBookingId(1 + static_cast<int>(rng() % bookings));
    grpc::Status s;
    if (call % 3 == 0) {
      history::v1::VerifyHistoryRequest request;
      request.set_booking_id(booking);
      history::v1::VerifyHistoryResponse response;
      s = stub->VerifyHistory(&context, request, &response);
    } else if (call % 3 == 1) {
      history::v1::ListHistoryRequest request;
      request.set_page_size(20);
      history::v1::ListHistoryResponse response;
      s = stub->ListHistory(&context, request, &response);
    } else {
      history::v1::GetBookingHistoryRequest request;
      request.set_booking_id(booking);
      history::v1::GetBookingHistoryResponse response;
      s = stub->GetBookingHistory(&context, request, &response);
    }
    if (s.ok()) {
      ++ok_;
    } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted_;
      google::rpc::RetryInfo retry;
      if (pushback == Pushback::kHonour && FindDetail(s, &retry)) {
        Pace(absl::Seconds(retry.retry_delay().seconds()) +
             absl::Nanoseconds(retry.retry_delay().nanos()));
      }
    } else {
      bool first = false;
      if (other_seen_.compare_exchange_strong(first, true)) {
        first_other_ = absl::StrCat(s.error_code(), ": ", s.error_message());
      }
      ++other_;
    }
  }
}

Readers::Counts Readers::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  return {ok_.load(), exhausted_.load(), other_.load(), first_other_};
}

}  // namespace booking::testing
