#include "migrator/exit_codes.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace booking::migrator {
namespace {
constexpr absl::string_view kPayload = "booking.migrator/exit-code";
}  // namespace

absl::Status WithExitCode(absl::Status status, ExitCode code) {
  status.SetPayload(kPayload, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

int ExitCodeOf(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (auto payload = status.GetPayload(kPayload)) {
    int code = kExitFailed;
    if (absl::SimpleAtoi(std::string(*payload), &code)) return code;
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kResourceExhausted:
      return kExitLockBusy;
    case absl::StatusCode::kDataLoss:
      return kExitVerifyFailed;
    case absl::StatusCode::kFailedPrecondition:
      return kExitRefused;
    default:
      return kExitFailed;
  }
}

}  // namespace booking::migrator
