// What delivery-bench's parts share: failing loudly, small queries, waiting
// for the relay without loading the store it reads, and number formatting.
#ifndef BENCH_DELIVERY_BENCH_SUPPORT_H_
#define BENCH_DELIVERY_BENCH_SUPPORT_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/common/die.h"
#include "pqxx/pqxx"
#include "tests/support/service_set.h"

namespace booking::testing {

using bench::Check;
using bench::Die;

inline int64_t Count(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec(sql)[0][0].as<int64_t>();
}

// Waits until the relays of replicas 0..replicas-1 have acknowledged
// `events` events in all, by their relay_events_acked_total counters: the
// wait reads no table, so it takes no CPU from the stores being measured.
inline void WaitAcked(const ServiceSet& s, int replicas, double events) {
  while (true) {
    double acked = 0;
    for (int r = 0; r < replicas; ++r) {
      acked += ScrapeMetric(s.booking_metrics_target(r), "relay_events_acked_total").value_or(0);
    }
    if (acked >= events) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

// 12345.6 -> "12,346".
inline std::string Thousands(double v) {
  std::string digits = absl::StrFormat("%.0f", v);
  std::string out;
  const size_t lead = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && i >= lead && (i - lead) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace booking::testing

#endif  // BENCH_DELIVERY_BENCH_SUPPORT_H_
