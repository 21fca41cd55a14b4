#include "bench/migration/probe.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "absl/time/clock.h"
#include "pqxx/pqxx"

namespace booking::bench {

Probe::Probe(const std::string& url, int64_t rows) : url_(url), rows_(rows), origin_(absl::Now()) {
  thread_ = std::thread([this] { Run(); });
}

Probe::~Probe() { Stop(); }

void Probe::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Probe::Run() {
  pqxx::connection conn(url_);
  conn.prepare("change", R"(UPDATE "Booking" SET "updatedAt" = now() WHERE id = $1)");
  std::mt19937_64 rng(42);
  while (!stop_) {
    // Booking i holds seed label 1 + i % 9; i % 9 in 2..6 are the old
    // labels the migration relabels (seed_shape.sql).
    int64_t i = 1 + static_cast<int64_t>(rng() % rows_);
    i = i - i % 9 + 2 + static_cast<int64_t>(rng() % 5);
    if (i > rows_) continue;
    char id[24];
    std::snprintf(id, sizeof(id), "bk-%08lld", static_cast<long long>(i));
    const double at = Now();
    bool ok = true;
    try {
      pqxx::work txn(conn);
      txn.exec_prepared("change", std::string(id));
      txn.commit();
    } catch (const std::exception& e) {
      ok = false;
      ++failures_;
      std::cerr << "probe: " << e.what() << "\n";
    }
    const double ms = (Now() - at) * 1000.0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      samples_.push_back({at, ms, ok});
    }
    // A writer that also does other work: about 300 changes a second at most.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::vector<Sample> Probe::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

std::vector<Phase> Probe::phases() const {
  std::lock_guard<std::mutex> lock(mu_);
  return phases_;
}

WaitStats Probe::StatsIn(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<double> ms;
  for (const Phase& p : phases_) {
    if (p.name != name) continue;
    for (const Sample& s : samples_) {
      if (s.at_s >= p.start_s && s.at_s <= p.end_s) ms.push_back(s.ms);
    }
  }
  return Summarize(std::move(ms));
}

WaitStats Summarize(std::vector<double> ms) {
  WaitStats w;
  w.count = static_cast<int64_t>(ms.size());
  if (ms.empty()) return w;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    size_t rank = static_cast<size_t>(q * static_cast<double>(ms.size()) + 0.999999);
    return ms[std::min(ms.size(), std::max<size_t>(rank, 1)) - 1];
  };
  w.p50_ms = at(0.50);
  w.p99_ms = at(0.99);
  w.max_ms = ms.back();
  return w;
}

}  // namespace booking::bench
