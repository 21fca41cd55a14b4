// One-shot queries for test assertions, each on a connection of its own.
#ifndef TESTS_SUPPORT_SQL_H_
#define TESTS_SUPPORT_SQL_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace booking::testing {

// One query's rows as "a|b|\n" lines (NULL as "NULL").
std::string QueryText(const std::string& url, const std::string& sql);
// The first column of the first row ("NULL" when none).
std::string QueryValue(const std::string& url, const std::string& sql);
// The first column of the first row as a number (a count, a sum).
int64_t QueryCount(const std::string& url, const std::string& sql);
void Exec(const std::string& url, const std::string& sql);
// Polls `sql` (a count) until it is `want` (WaitFor); false at the timeout.
bool WaitForCount(const std::string& url, const std::string& sql, int64_t want,
                  absl::Duration timeout);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_SQL_H_
