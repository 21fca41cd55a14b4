#include "booking-service/status_change_metrics.h"

#include <string>

namespace booking {
namespace {

prometheus::Labels LabelsOf(Status from, Status to) {
  return {{"from", std::string(Label(from))}, {"to", std::string(Label(to))}};
}

}  // namespace

StatusChangeMetrics::StatusChangeMetrics(prometheus::Registry& registry)
    : changes_(prometheus::BuildCounter()
                   .Name("booking_status_changes_total")
                   .Help("booking status changes committed, by from and to status")
                   .Register(registry)) {
  for (Status from : AllStatuses()) {
    for (Status to : AllStatuses()) {
      if (from != to && IsTransitionAllowed(from, to)) changes_.Add(LabelsOf(from, to));
    }
  }
}

void StatusChangeMetrics::Count(Status from, Status to) {
  changes_.Add(LabelsOf(from, to)).Increment();
}

}  // namespace booking
