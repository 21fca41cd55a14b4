// The known name closest to a mistyped one, for "did you mean ...?" in
// messages (flags, policy methods and groups). One rule everywhere: the
// fewest edits (EditDistance), within about a quarter of the name's
// length (1 to 3 edits); none when nothing is that close.
#ifndef BOOKING_COMMON_CLOSEST_NAME_H_
#define BOOKING_COMMON_CLOSEST_NAME_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace booking {

// Edit distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters (a common typo: "raeders"), one each.
size_t EditDistance(absl::string_view a, absl::string_view b);

// The candidate closest to `typed` within the bound above; empty when none
// is. Ties go to the first candidate.
std::string ClosestName(absl::string_view typed, const std::vector<std::string>& candidates);

}  // namespace booking

#endif  // BOOKING_COMMON_CLOSEST_NAME_H_
