// The exit codes every binary shares (README "Exit codes"): 0 done, 2 the
// command line is wrong. Each binary documents its other codes.
#ifndef BOOKING_COMMON_EXIT_CODES_H_
#define BOOKING_COMMON_EXIT_CODES_H_

namespace booking {

inline constexpr int kExitSuccess = 0;

// The command line is wrong (an unknown flag, a value its flag refuses, a
// missing or extra argument, a required setting not given): fix the command;
// running it again unchanged will not help, so a Job must not retry it.
inline constexpr int kExitUsage = 2;

}  // namespace booking

#endif  // BOOKING_COMMON_EXIT_CODES_H_
