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
// With ServiceSet::Options for services that run with particular flags
// (StartStack("reflection1", {.health_ports = true})). SplitStackSuite: the
// booking store and the history store on two PostgreSQL servers of the
// suite's own, for suites that stop and restart each store on its own.
//
// Thread safety: gtest calls the fixtures from one thread; the stack's own
// classes state theirs.
#ifndef TESTS_SUPPORT_STACK_SUITE_H_
#define TESTS_SUPPORT_STACK_SUITE_H_

#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"

namespace booking::testing {

class StackSuite : public PgSuite {
 protected:
  // PostgreSQL, then a ServiceSet named `prefix` with `options`, started.
  static void StartStack(const std::string& prefix,
                         ServiceSet::Options options = ServiceSet::Options()) {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::CreateAndStart(*pg_, prefix, std::move(options));
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

class SplitStackSuite : public ::testing::Test {
 protected:
  // Two PostgreSQL servers, then a ServiceSet named `prefix` with `options`,
  // its booking store on booking_pg_ and its history store on history_pg_.
  static void StartSplitStack(const std::string& prefix,
                              ServiceSet::Options options = ServiceSet::Options()) {
    for (std::unique_ptr<PgCluster>* pg : {&booking_pg_, &history_pg_}) {
      auto started = PgCluster::Start();
      ASSERT_TRUE(started.ok()) << started.status();
      *pg = *std::move(started);
    }
    auto set = ServiceSet::CreateAndStart(*booking_pg_, *history_pg_, prefix, std::move(options));
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
  }
  static void TearDownTestSuite() {
    set_.reset();
    booking_pg_.reset();
    history_pg_.reset();
  }
  void SetUp() override { ASSERT_NE(set_, nullptr) << "the split stack did not start"; }

  inline static std::unique_ptr<PgCluster> booking_pg_, history_pg_;
  inline static std::unique_ptr<ServiceSet> set_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_STACK_SUITE_H_
