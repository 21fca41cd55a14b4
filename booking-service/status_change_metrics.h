// booking_status_changes_total{from,to}: the status changes committed, by
// the labels of the statuses (the wire names), for the dashboard's flow of
// bookings through the state machine. Counted after the commit, once per
// change (a retried request that is replayed changes nothing).
#ifndef BOOKING_SERVICE_STATUS_CHANGE_METRICS_H_
#define BOOKING_SERVICE_STATUS_CHANGE_METRICS_H_

#include "common/status_catalog.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace booking {

// Thread safe.
class StatusChangeMetrics {
 public:
  // Creates every allowed transition's series at zero.
  explicit StatusChangeMetrics(prometheus::Registry& registry);
  void Count(Status from, Status to);

 private:
  prometheus::Family<prometheus::Counter>& changes_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_STATUS_CHANGE_METRICS_H_
