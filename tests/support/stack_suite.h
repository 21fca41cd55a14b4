// A test suite sharing one real PostgreSQL 15 and one running ServiceSet
// (migrated stores, booking-service and history-service in plaintext),
// started once per suite (tests/support/secure_stack_suite.h: the same over
// mTLS). A suite names its stack in its own SetUpTestSuite:
//
//   class LifecycleTest : public StackSuite {
//    protected:
//     static void SetUpTestSuite() { StartStack("e2e"); }
//   };
//
// Thread safety: gtest calls the fixtures from one thread; the stack's own
// classes state theirs.
#ifndef TESTS_SUPPORT_STACK_SUITE_H_
#define TESTS_SUPPORT_STACK_SUITE_H_

#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"

namespace booking::testing {

class StackSuite : public PgSuite {
 protected:
  // PostgreSQL, then a ServiceSet named `prefix`, started.
  static void StartStack(const std::string& prefix) {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::CreateAndStart(*pg_, prefix);
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override { ASSERT_NE(set_, nullptr) << "the services did not start"; }

  inline static std::unique_ptr<ServiceSet> set_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_STACK_SUITE_H_
