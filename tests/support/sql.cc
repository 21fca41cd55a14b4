#include "tests/support/sql.h"

#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"
#include "tests/support/wait.h"

namespace booking::testing {

std::string QueryText(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::string out;
  for (const auto& row : txn.exec(sql)) {
    for (const auto& field : row)
      absl::StrAppend(&out, field.is_null() ? "NULL" : field.c_str(), "|");
    out += "\n";
  }
  return out;
}

std::string QueryValue(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  pqxx::result r = txn.exec(sql);
  return r.empty() || r[0][0].is_null() ? "NULL" : r[0][0].as<std::string>();
}

void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  txn.exec(sql);
}

int64_t QueryCount(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec(sql)[0][0].as<int64_t>();
}

bool WaitForCount(const std::string& url, const std::string& sql, int64_t want,
                  absl::Duration timeout) {
  return WaitFor([&] { return QueryCount(url, sql) == want; }, timeout, sql,
                 absl::Milliseconds(100))
      .ok();
}

}  // namespace booking::testing
