#include "common/call_deadline.h"

#include <chrono>

#include "grpcpp/server_context.h"

namespace booking {

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  const auto deadline = context.deadline();
  // No deadline reads as the far future; a day or more is as good as none.
  if (deadline >= std::chrono::system_clock::now() + std::chrono::hours(24)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

}  // namespace booking
