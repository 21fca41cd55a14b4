// ListHistory: entries across bookings, filtered (list_filter.h), ordered by
// create_time (ties by entry id), read as a keyset page: a page token holds
// the last entry's (create_time, id), signed (page_token.h), so later pages neither skip nor repeat
// an entry however many are stored meanwhile. Each filter shape is one range
// of an index of history step 0007 (migrator/history_schema_steps.cc).
#ifndef HISTORY_SERVICE_LIST_HISTORY_H_
#define HISTORY_SERVICE_LIST_HISTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "history-service/list_filter.h"
#include "history/v1/history.pb.h"

namespace booking {

// AIP-132: newest first unless order_by says "create_time" / "create_time asc".
enum class ListOrder { kNewestFirst, kOldestFirst };

// The last entry of the previous page.
struct ListCursor {
  int64_t micros = 0;
  std::string id;  // UUID
};

// A checked ListHistory request.
struct ListPlan {
  ListFilter filter;
  ListOrder order = ListOrder::kNewestFirst;
  int page_size = 0;
  std::optional<ListCursor> after;
};

// INVALID_ARGUMENT (with a BadRequest violation and ErrorInfo) for a bad
// filter (a time outside common/input_check.h's range among it), order_by,
// negative page_size, or a page token that is not one of ListHistory's
// (page_token.h: signed with this process's keys), was made for another
// filter or order_by, or holds a time outside that range. page_size is not
// bound: AIP-158 lets a caller change it from page to page.
absl::StatusOr<ListPlan> PlanListHistory(const history::v1::ListHistoryRequest& request);

// The page token of the page after `at` for `plan`'s filter and order: what
// ReadListPage returns (exposed for tests that build tokens).
std::string ListHistoryPageToken(const ListPlan& plan, const ListCursor& at);

// The statement ListHistory runs and its parameters ($1..$n, text):
// exposed so that a test can EXPLAIN exactly what the service runs.
struct ListQuery {
  std::string sql;
  std::vector<std::string> params;
};
ListQuery BuildListQuery(const ListPlan& plan);

// One page: up to page_size entries, fewer once about
// limits::kMaxHistoryPageBytes are read; next_page_token when more follow.
absl::StatusOr<history::v1::ListHistoryResponse> ReadListPage(pqxx::transaction_base& txn,
                                                              const ListPlan& plan);

}  // namespace booking

#endif  // HISTORY_SERVICE_LIST_HISTORY_H_
