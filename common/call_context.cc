#include "common/call_context.h"

#include <chrono>
#include <iterator>
#include <optional>

#include "absl/strings/string_view.h"
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

TraceContext TraceOfCall(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range("traceparent");
  std::optional<TraceContext> parent;
  // Several traceparent headers: invalid, so a new trace (the specification).
  if (first != last && std::next(first) == last) {
    parent = ParseTraceparent(absl::string_view(first->second.data(), first->second.size()));
  }
  return ChildOf(parent);
}

}  // namespace booking
