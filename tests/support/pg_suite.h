// A test suite sharing one real PostgreSQL 15 (started once per suite).
#ifndef TESTS_SUPPORT_PG_SUITE_H_
#define TESTS_SUPPORT_PG_SUITE_H_

#include <memory>

#include "gtest/gtest.h"
#include "tests/support/pg_cluster.h"

namespace booking::testing {

class PgSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pg = PgCluster::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
  }
  static void TearDownTestSuite() { pg_.reset(); }
  void SetUp() override { ASSERT_NE(pg_, nullptr) << "PostgreSQL did not start"; }

  inline static std::unique_ptr<PgCluster> pg_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_PG_SUITE_H_
