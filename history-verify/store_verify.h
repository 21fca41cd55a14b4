// The offline check of a whole history store (or one booking): every
// booking's hash chain and, against a trusted checkpoint, every head the
// checkpoint signed and its row count.
#ifndef HISTORY_VERIFY_STORE_VERIFY_H_
#define HISTORY_VERIFY_STORE_VERIFY_H_

#include <optional>
#include <string>
#include <vector>

#include "common/pqxx_fwd.h"
#include "history-service/verify.h"
#include "history/v1/history.pb.h"

namespace booking {

struct StoreReport {
  int64_t rows = 0;
  int64_t bookings = 0;
  std::vector<Finding> findings;  // in booking id order; the first is the first bad row
};

// `trusted`'s signature must have been checked by the caller; nullptr checks
// the chains alone (a rewrite that recomputes every later hash, or a deleted
// last row, is then not seen). With `booking`, only that booking is checked
// (against its signed head).
StoreReport VerifyStore(pqxx::transaction_base& txn, const history::v1::Checkpoint* trusted,
                        const std::optional<std::string>& booking);

}  // namespace booking

#endif  // HISTORY_VERIFY_STORE_VERIFY_H_
