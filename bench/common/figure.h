// One line per figure that bench/run-all gathers into its table:
//   FIGURE|<figure>|<ours>|<yardstick>|<ratio>|<target>|<met>
// Each benchmark prints its own human-readable report as well; these lines
// are the contract between a benchmark and the table, kept in one place.
#ifndef BENCH_COMMON_FIGURE_H_
#define BENCH_COMMON_FIGURE_H_

#include <cstdio>
#include <optional>
#include <string>

namespace booking::bench {

struct Figure {
  std::string name;         // "backfill rows/s (1M bookings)"
  std::string ours;         // "33,038 rows/s"
  std::string yardstick;    // "167,445 rows/s (seed UPDATE)"; "-" when none
  std::string ratio;        // "0.20x"; "-" when the figure is absolute
  std::string target;       // ">= 0.5x"
  std::optional<bool> met;  // none: a figure watched without a target
};

inline void PrintFigure(const Figure& f) {
  std::printf("FIGURE|%s|%s|%s|%s|%s|%s\n", f.name.c_str(), f.ours.c_str(), f.yardstick.c_str(),
              f.ratio.c_str(), f.target.c_str(),
              !f.met   ? "-"
              : *f.met ? "met"
                       : "NOT MET");
  std::fflush(stdout);
}

}  // namespace booking::bench

#endif  // BENCH_COMMON_FIGURE_H_
