#ifndef BOOKING_COMMON_DIGEST_H_
#define BOOKING_COMMON_DIGEST_H_

#include <string>

#include "absl/strings/string_view.h"

namespace booking {

// SHA-256 of `data` as lowercase hex (OpenSSL).
std::string Sha256Hex(absl::string_view data);

}  // namespace booking

#endif  // BOOKING_COMMON_DIGEST_H_
