// FreePort hands each port to one caller: a test that asks for two ports
// (one per service) must get two, or a service dials itself.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/process.h"

namespace booking::testing {
namespace {

TEST(FreePort, NeverHandsOutOnePortTwice) {
  // The kernel's pick for a socket bound and closed at once repeats well
  // within this many asks (about 28k ephemeral ports).
  std::set<int> seen;
  for (int i = 0; i < 3000; ++i) {
    const int port = FreePort();
    ASSERT_GT(port, 0);
    ASSERT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice, ask " << i;
  }
}

}  // namespace
}  // namespace booking::testing
