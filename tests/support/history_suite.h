// A test suite against one history-service (plaintext, no booking-service)
// on a store of its own, started once per suite: `Prefix` names the
// store's databases.
#ifndef TESTS_SUPPORT_HISTORY_SUITE_H_
#define TESTS_SUPPORT_HISTORY_SUITE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"

namespace booking::testing {

template <const char* Prefix>
class HistorySuite : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::Create(*pg_, Prefix);
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    ASSERT_TRUE(set_->StartHistory().ok()) << set_->Logs();
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(set_, nullptr);
  }
  static std::string Url() { return set_->history_url(); }
  static std::string Target() { return set_->history_target(); }

  inline static std::unique_ptr<ServiceSet> set_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_HISTORY_SUITE_H_
