// Inputs for the ListHistory fuzzer (tests/list_history_fuzz_test.cc), each
// a function of one seed: filters from ListHistory's grammar and around it,
// order_by, page_size, page tokens made by hand and altered ones, and the
// small story of entries they run against.
#ifndef TESTS_SUPPORT_LIST_FUZZ_GEN_H_
#define TESTS_SUPPORT_LIST_FUZZ_GEN_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "history/v1/history.pb.h"

namespace booking::testing {

// 40 entries of bookings fuzz-0..fuzz-19 (two each), at times from the
// first microsecond of year 1 to the last millisecond of year 9999.
std::vector<history::v1::StatusChangeEvent> FuzzStory();

// Not thread-safe: one per thread.
class ListFuzzGen {
 public:
  explicit ListFuzzGen(uint64_t seed) : rng_(seed) {}

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  // A string: names, unicode, broken UTF-8, NUL, long, quotes, random bytes.
  std::string Text();
  // An RFC 3339 time, at or beyond the edges of the range, or malformed.
  std::string Time();
  std::string Filter();
  // A filter the grammar accepts: each field at most once, the story's
  // names, times inside the range (at its edges among them).
  std::string CleanFilter();
  std::string OrderBy();
  int32_t PageSize();
  // filter, order_by, page_size, and now and then a hand-made token.
  history::v1::ListHistoryRequest Request();
  // A token nobody signed: garbage, base64 of old and new layouts with
  // extreme values, random "signatures", too long.
  std::string HandMadeToken();
  // `token` changed by one edit (never equal to it).
  std::string Mutate(const std::string& token);

 private:
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(Int(0, static_cast<int>(items.size()) - 1))];
  }
  std::string RandomBytes(int max);
  std::string Value();
  std::string Comparison();

  std::mt19937_64 rng_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_LIST_FUZZ_GEN_H_
