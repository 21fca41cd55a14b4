// A service's /metrics, parsed: every sample with its labels, so that a test
// can read one series (a method and code) rather than a metric's total.
#ifndef TESTS_SUPPORT_METRICS_SCRAPE_H_
#define TESTS_SUPPORT_METRICS_SCRAPE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace booking::testing {

struct MetricSample {
  std::string name;  // as exposed: a histogram's are NAME_bucket, NAME_sum, NAME_count
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The body of GET /metrics at HOST:PORT (HTTP/1.0: no client library here).
absl::StatusOr<std::string> FetchMetricsText(const std::string& target);

// The samples of a text exposition (format 0.0.4); comments skipped.
std::vector<MetricSample> ParseMetricsText(const std::string& text);

absl::StatusOr<std::vector<MetricSample>> ScrapeSamples(const std::string& target);

// The sum of the samples of `name` whose labels include all of `match`.
double SumOf(const std::vector<MetricSample>& samples, const std::string& name,
             const std::map<std::string, std::string>& match = {});

// Every sample name served.
std::set<std::string> NamesOf(const std::vector<MetricSample>& samples);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_METRICS_SCRAPE_H_
