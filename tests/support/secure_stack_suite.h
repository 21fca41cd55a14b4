// A test suite sharing one real PostgreSQL 15 and one running SecureStack
// (both services over mTLS with tokens and a policy), started once per suite.
// A suite names its stack in its own SetUpTestSuite:
//
//   class SecurityTest : public SecureStackSuite {
//    protected:
//     static void SetUpTestSuite() { StartSecureStack("sec"); }
//   };
//
// Thread safety: gtest calls the fixtures from one thread; SecureStack states
// its own.
#ifndef TESTS_SUPPORT_SECURE_STACK_SUITE_H_
#define TESTS_SUPPORT_SECURE_STACK_SUITE_H_

#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "tests/support/pg_suite.h"
#include "tests/support/security_stack.h"

namespace booking::testing {

class SecureStackSuite : public PgSuite {
 protected:
  // PostgreSQL, then a SecureStack named `prefix` with `options`, started.
  static void StartSecureStack(const std::string& prefix,
                               SecureStack::Options options = SecureStack::Options()) {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto stack = SecureStack::Start(*pg_, prefix, std::move(options));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }
  static void TearDownTestSuite() {
    stack_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr) << "the secure stack did not start"; }

  inline static std::unique_ptr<SecureStack> stack_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_SECURE_STACK_SUITE_H_
