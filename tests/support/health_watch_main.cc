// health_watch TARGET INTERVAL_MS: calls grpc.health.v1.Health/Check on
// TARGET every INTERVAL_MS on a channel of its own, in a process of its own
// (so that the load a test generates does not delay its answers on the
// client side), until killed. One line per check on stdout:
//   <latency ms> <wake-up lag ms> <unix ms at start> <SERVING | NOT_SERVING | error>
// where the lag is how much later than asked this process woke up for the
// check (large: the machine's CPUs were taken).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/wait.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: health_watch TARGET INTERVAL_MS\n");
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds interval(std::atoi(argv[2]));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(argv[1], grpc::InsecureChannelCredentials(), args));
  Clock::time_point due = Clock::now();
  for (;;) {
    const Clock::time_point start = Clock::now();
    const double lag = std::chrono::duration<double, std::milli>(start - due).count();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::string result = status.error_message();
    for (char& c : result) c = c == '\n' ? ' ' : c;
    if (status.ok()) {
      result = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
    }
    const long long at = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() -
                         static_cast<long long>(ms);
    std::printf("%.3f %.3f %lld %s\n", ms, lag, at, result.c_str());
    std::fflush(stdout);
    due = Clock::now() + interval;
    booking::testing::Pace(absl::FromChrono(due - Clock::now()));
  }
}
