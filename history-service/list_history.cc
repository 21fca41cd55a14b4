#include "history-service/list_history.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/rpc_error.h"
#include "history-service/history_page.h"
#include "history-service/page_token.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr char kDomain[] = "history.v1";
constexpr char kTokenPurpose[] = "history.v1.ListHistory page_token";
constexpr char kTokenVersion[] = "l2";

absl::Status BadField(const std::string& field, const std::string& problem,
                      const std::string& reason) {
  return RpcError(absl::StatusCode::kInvalidArgument, absl::StrCat(field, ": ", problem))
      .FieldViolation(field, problem)
      .Info(reason, kDomain);
}

absl::StatusOr<ListOrder> ParseOrderBy(absl::string_view text) {
  const std::vector<absl::string_view> words =
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.empty()) return ListOrder::kNewestFirst;
  if (words[0] == "create_time" && words.size() <= 2) {
    if (words.size() == 1 || words[1] == "asc") return ListOrder::kOldestFirst;
    if (words[1] == "desc") return ListOrder::kNewestFirst;
  }
  return BadField("order_by",
                  "supported: \"create_time desc\" (newest first, the default), \"create_time\" "
                  "or \"create_time asc\" (oldest first)",
                  "INVALID_ORDER_BY");
}

// What a token is bound to: the filter's meaning and the order.
std::string Binding(const ListFilter& filter, ListOrder order) {
  return Sha256Hex(absl::StrCat(filter.Canonical(), order == ListOrder::kNewestFirst ? "d" : "a"))
      .substr(0, 16);
}

absl::StatusOr<ListCursor> DecodeToken(const std::string& token, const ListPlan& plan) {
  const absl::Status bad = BadField(
      "page_token",
      "not a page token returned by ListHistory (or one made under another --page-token-key): "
      "send no page_token to start over",
      "INVALID_PAGE_TOKEN");
  if (token.size() > limits::kMaxPageTokenBytes) return bad;
  const std::optional<std::string> raw = OpenToken(kTokenPurpose, token);
  if (!raw) return bad;
  // Authentic from here on; still checked, as if it were not.
  const std::vector<std::string> parts = absl::StrSplit(*raw, '|');
  ListCursor cursor;
  if (parts.size() != 4 || parts[0] != kTokenVersion ||
      !absl::SimpleAtoi(parts[2], &cursor.micros) ||
      !CheckTimeMicros("page_token", cursor.micros).ok() ||
      !CheckUuid("page_token", parts[3]).ok()) {
    return bad;
  }
  if (parts[1] != Binding(plan.filter, plan.order)) {
    return BadField("page_token",
                    "made for another filter or order_by: send the filter and order_by of the "
                    "call that returned it, or no page_token to start over",
                    "PAGE_TOKEN_MISMATCH");
  }
  cursor.id = parts[3];
  return cursor;
}

// The WHERE conditions of `plan`, their values appended to `params`. Times
// are "createdAt" literals (TIMESTAMP without zone, UTC), each checked
// against kMinTimeMicros..kMaxTimeMicros by the filter's parser or the
// token's decoder.
std::vector<std::string> Conditions(const ListPlan& plan, std::vector<std::string>& params) {
  std::vector<std::string> where;
  const auto param = [&](std::string value, absl::string_view cast = "") {
    params.push_back(std::move(value));
    return absl::StrCat("$", params.size(), cast);
  };
  // from_status "": history stores a booking's first entry without one.
  const auto text = [&](absl::string_view column, const std::optional<std::string>& value) {
    if (!value) return;
    const bool none = value->empty() && column == "fromStatus";
    where.push_back(none ? absl::StrCat("h.\"", column, "\" IS NULL")
                         : absl::StrCat("h.\"", column, "\" = ", param(*value)));
  };
  const ListFilter& f = plan.filter;
  text("changedBy", f.changed_by);
  text("toStatus", f.to_status);
  text("fromStatus", f.from_status);
  if (f.after) {
    where.push_back(absl::StrCat("h.\"createdAt\" ", f.after->inclusive ? ">=" : ">", " ",
                                 param(PgTimestampText(f.after->micros), "::timestamp")));
  }
  if (f.before) {
    where.push_back(absl::StrCat("h.\"createdAt\" ", f.before->inclusive ? "<=" : "<", " ",
                                 param(PgTimestampText(f.before->micros), "::timestamp")));
  }
  if (plan.after) {
    const bool newest = plan.order == ListOrder::kNewestFirst;
    where.push_back(absl::StrCat("(h.\"createdAt\", h.id) ", newest ? "<" : ">", " (",
                                 param(PgTimestampText(plan.after->micros), "::timestamp"), ", ",
                                 param(plan.after->id, "::uuid"), ")"));
  }
  return where;
}

}  // namespace

// SealToken (page_token.h) of "l2|binding|micros|id".
std::string ListHistoryPageToken(const ListPlan& plan, const ListCursor& at) {
  return SealToken(kTokenPurpose, absl::StrCat(kTokenVersion, "|", Binding(plan.filter, plan.order),
                                               "|", at.micros, "|", at.id));
}

absl::StatusOr<ListPlan> PlanListHistory(const history::v1::ListHistoryRequest& request) {
  ListPlan plan;
  absl::StatusOr<ListFilter> filter = ParseListFilter(request.filter());
  if (!filter.ok()) return filter.status();
  plan.filter = *std::move(filter);
  absl::StatusOr<ListOrder> order = ParseOrderBy(request.order_by());
  if (!order.ok()) return order.status();
  plan.order = *order;
  absl::StatusOr<int> page_size = PageSizeOf(request.page_size(), kDefaultPageSize);
  if (!page_size.ok()) return page_size.status();
  plan.page_size = *page_size;
  if (!request.page_token().empty()) {
    absl::StatusOr<ListCursor> cursor = DecodeToken(request.page_token(), plan);
    if (!cursor.ok()) return cursor.status();
    plan.after = *std::move(cursor);
  }
  return plan;
}

// kHistoryEntryColumns, then booking_id and upto (the bytes read up to the
// row). Like GetBookingHistory's page, the page ends at page_size rows or
// once about kMaxHistoryPageBytes are read.
ListQuery BuildListQuery(const ListPlan& plan) {
  ListQuery q;
  const std::vector<std::string> where = Conditions(plan, q.params);
  const std::string dir = plan.order == ListOrder::kNewestFirst ? "DESC" : "ASC";
  const std::string order = absl::StrCat("at ", dir, ", uid ", dir);
  q.sql = absl::StrCat(
      "SELECT ", kHistoryEntryNames, ", booking_id, upto FROM (SELECT *, sum(size) OVER (ORDER BY ",
      order, " ROWS UNBOUNDED PRECEDING) AS upto FROM (SELECT *, 128 + octet_length(metadata) + ",
      "octet_length(reason) AS size FROM (SELECT ", kHistoryEntryColumns,
      ", h.\"bookingId\" AS booking_id, h.\"createdAt\" AS at, h.id AS uid ",
      "FROM \"BookingStatusHistory\" h",
      where.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(where, " AND ")),
      " ORDER BY h.\"createdAt\" ", dir, ", h.id ", dir, " LIMIT ", plan.page_size + 1,
      ") AS rows) AS sized) AS page WHERE upto - size < ", limits::kMaxHistoryPageBytes,
      " ORDER BY ", order);
  return q;
}

namespace {

// Where a result of BuildListQuery's statement holds its columns.
struct ListLayout {
  explicit ListLayout(const pqxx::result& r)
      : entry(r), booking_id(r.column_number("booking_id")), upto(r.column_number("upto")) {}

  HistoryEntryLayout entry;
  pqxx::row_size_type booking_id, upto;
};

}  // namespace

absl::StatusOr<history::v1::ListHistoryResponse> ReadListPage(pqxx::transaction_base& txn,
                                                              const ListPlan& plan) {
  const ListQuery q = BuildListQuery(plan);
  const pqxx::result r = txn.exec_params(q.sql, pqxx::prepare::make_dynamic_params(q.params));
  const ListLayout at(r);
  history::v1::ListHistoryResponse response;
  const int taken = std::min<int>(static_cast<int>(r.size()), plan.page_size);
  for (int i = 0; i < taken; ++i) {
    absl::Status s = HistoryRowToEntry(r[i], at.entry, r[i][at.booking_id].as<std::string>(),
                                       response.add_entries());
    if (!s.ok()) return s;
  }
  const bool more = static_cast<int>(r.size()) > plan.page_size ||
                    (taken > 0 && r[taken - 1][at.upto].as<int64_t>() >=
                                      static_cast<int64_t>(limits::kMaxHistoryPageBytes));
  if (more && taken > 0) {
    const history::v1::HistoryEntry& last = response.entries(taken - 1);
    response.set_next_page_token(ListHistoryPageToken(
        plan, ListCursor{r[taken - 1][at.entry.created_micros].as<int64_t>(), last.id()}));
  }
  return response;
}

}  // namespace booking
